"""The leaderboard's columns: which score of the store each column shows, and which way is better.

Keys follow contract 4 of the results store (`metric/key`). The aggregate rank is the mean of the per-metric
ranks over the `RANKED` columns (the 2019 disentanglement challenge's rule); reconstruction is shown next to
them but not ranked, since a lower reconstruction error says nothing about disentanglement.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One leaderboard column: the store's (metric, key), a short label and the better direction."""

    metric: str
    key: str
    label: str
    title: str
    higher_is_better: bool = True
    ranked: bool = True

    @property
    def id(self) -> str:
        """Stable identifier used in CSV headers, JSON and HTML attributes."""
        return f"{self.metric}.{self.key}"


RANKED: tuple[Column, ...] = (
    Column("beta_vae", "eval_accuracy", "BetaVAE", "BetaVAE score: accuracy of a linear classifier predicting the "
           "fixed factor from code differences (Higgins et al. 2017)"),
    Column("factor_vae", "eval_accuracy", "FactorVAE", "FactorVAE score: majority-vote accuracy on the code "
           "dimension of least variance (Kim & Mnih 2018)"),
    Column("mig", "mig", "MIG", "Mutual information gap (Chen et al. 2018)"),
    Column("dci", "disentanglement", "DCI-D", "DCI disentanglement (Eastwood & Williams 2018)"),
    Column("sap", "sap", "SAP", "Separated attribute predictability (Kumar et al. 2018)"),
    Column("modularity_explicitness", "modularity", "Modularity", "Modularity (Ridgeway & Mozer 2018)"),
    Column("irs", "irs", "IRS", "Interventional robustness score (Suter et al. 2019)"),
    Column("infomec", "infom", "InfoM", "InfoM, the modularity part of InfoMEC (Hsu et al. 2023)"),
)

RECONSTRUCTION = Column("training", "reconstruction", "Recon.", "Reconstruction error at the end of training "
                        "(summed sigmoid cross-entropy per image; lower is better; not ranked)",
                        higher_is_better=False, ranked=False)

HEADLINE: tuple[Column, ...] = RANKED + (RECONSTRUCTION,)

# Scores of this metric describe training, not a representation: they carry no evaluation protocol of their own.
TRAINING_METRIC = RECONSTRUCTION.metric
