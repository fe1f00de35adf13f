"""factorbench.metrics: every established disentanglement metric on arrays, plus a driver that samples and encodes
once.

Array-level functions live in one module each and keep the module's name: `factorbench.metrics.mig.mig`,
`.sap.sap`, `.dci.dci`, `.irs.irs`, `.unsupervised.unsupervised`, `.infomec.infomec`, `.downstream.downstream`
(so those modules are not shadowed here). Functions whose names differ from their module are re-exported below.
"""

from factorbench.metrics import (
    beta_vae,
    dci,
    dci_es,
    downstream,
    factor_vae,
    infomec,
    irs,
    mig,
    modularity,
    sap,
    udr,
    unsupervised,
)
from factorbench.metrics.beta_vae import beta_vae_score
from factorbench.metrics.dci_es import explicitness as dci_es_explicitness
from factorbench.metrics.driver import METRICS, available, evaluate
from factorbench.metrics.factor_vae import factor_vae_score
from factorbench.metrics.mig import dcimig, mig_sup
from factorbench.metrics.modularity import modularity_explicitness
from factorbench.metrics.udr import udr_score

__all__ = [
    "METRICS",
    "available",
    "beta_vae",
    "beta_vae_score",
    "dci",
    "dci_es",
    "dci_es_explicitness",
    "dcimig",
    "downstream",
    "evaluate",
    "factor_vae",
    "factor_vae_score",
    "infomec",
    "irs",
    "mig",
    "mig_sup",
    "modularity",
    "modularity_explicitness",
    "sap",
    "udr",
    "udr_score",
    "unsupervised",
]
