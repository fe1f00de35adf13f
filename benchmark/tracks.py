"""Tracks: named, versioned, frozen contracts under which numbers are comparable.

A track fixes everything that moves a score besides the model: the dataset and its version, the representation,
the evaluation protocol and the version of its definition (`factorbench.metrics.driver.PROTOCOL_VERSIONS`), every
sample size, the evaluation seeds, and for runs factorbench trained (kind "trained") the training budget (steps,
batch size, learning rate, architecture, latent count, step counter). Baselines and submissions declare their
training instead; a leaderboard row shows it and never pools differing configurations.

Every stored evaluation records the track it meets (`resolve`), or none: an "ad hoc" evaluation, kept and shown
apart, never ranked with a track. A track's id is derived from its content and its name, so changing any field
of a built-in track (a protocol version bump included) changes its id: scores stored under the old contract keep
the old id and never mix with new ones.

>>> track = get("sprites-fast")
>>> track.protocol, dict(track.sample_sizes)["train"], track.id[:4]
('fast', 10000, ...)

Built-in tracks: every registered dataset x {dlib, fast} at the Locatello et al. (2019) study's sizes and budget
("<dataset>-dlib", "<dataset>-fast"), the quickstart's reduced sizes and training length ("quickstart"), and the
tiny smoke-test study ("tiny").
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: The fields of a training budget, in display order (the keys of a run's `training` dict).
TRAINING_FIELDS = ("steps", "batch_size", "learning_rate", "architecture", "num_latents", "dlib_step_counter")
#: Kinds of run whose training budget a track enforces; the others declare theirs (shown, not enforced).
BUDGET_KINDS = ("trained",)
#: How the leaderboard names evaluations that meet no track.
AD_HOC = "ad hoc"
#: The quickstart's live training: a fixed number of updates (the same scores on every machine), about 2 minutes
#: for a 2-seed beta-VAE ensemble on an idle 2-core CPU. Adam at the study's 1e-4 leaves a beta-VAE on sprites
#: collapsed after a few hundred updates; 1e-3 makes them learn something.
QUICKSTART_TRAINING = {"steps": 200, "batch_size": 64, "learning_rate": 1e-3, "architecture": "conv",
                       "num_latents": 10, "dlib_step_counter": False}
QUICKSTART_DATASET = "sprites"
_NO_TRACK_DATASETS = ("identity",)  # test fixture datasets: no leaderboard of their own


@dataclasses.dataclass(frozen=True)
class Track:
    """One frozen evaluation (and training) contract.

    `family` names tracks that line up across datasets (the leaderboard's cross-dataset view compares them).
    """

    name: str
    version: int
    dataset: str
    dataset_version: str
    protocol: str
    protocol_version: int
    sample_sizes: tuple[tuple[str, int], ...]
    eval_seeds: tuple[int, ...] = (0,)
    representation: str = "mean"
    training: tuple[tuple[str, Any], ...] = ()
    family: str = ""
    description: str = ""

    def contract(self) -> dict[str, Any]:
        """The content that defines the track (what its id hashes), as plain JSON values."""
        return {
            "dataset": self.dataset, "dataset_version": self.dataset_version, "representation": self.representation,
            "protocol": self.protocol, "protocol_version": self.protocol_version,
            "sample_sizes": dict(self.sample_sizes), "eval_seeds": list(self.eval_seeds),
            "training": dict(self.training), "budget_kinds": list(BUDGET_KINDS),
        }

    @property
    def id(self) -> str:
        """A stable id: a hash of the name, the version and the contract."""
        text = json.dumps({"name": self.name, "version": self.version, **self.contract()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def sizes(self) -> dict[str, int]:
        """The sample sizes, as the metrics driver's `sizes` argument."""
        return dict(self.sample_sizes)

    def as_record(self) -> dict[str, Any]:
        """What the results store keeps of a track: id, name, version, family, description and contract."""
        return {"track_id": self.id, "name": self.name, "version": self.version, "family": self.family,
                "description": self.description, "contract": self.contract()}

    def mismatch(self, run: Mapping[str, Any], evaluation: Mapping[str, Any], representation: str) -> str | None:
        """Why an evaluation of `run` is outside this track (one phrase), or None when it meets the contract."""
        if run.get("dataset") != self.dataset:
            return f"dataset {run.get('dataset')} is not the track's {self.dataset}"
        if run.get("dataset_version") != self.dataset_version:
            return f"dataset version {run.get('dataset_version')} is not the track's {self.dataset_version}"
        if representation != self.representation:
            return f"representation {representation} is not the track's {self.representation}"
        protocol, version = evaluation_protocol(evaluation)
        if (protocol, version) != (self.protocol, self.protocol_version):
            return f"protocol {protocol}/{version} is not the track's {self.protocol}/{self.protocol_version}"
        if int(evaluation.get("seed", 0)) not in self.eval_seeds:
            return f"evaluation seed {evaluation.get('seed')} is not among the track's {list(self.eval_seeds)}"
        sizes = self.sizes
        for key, value in sorted((evaluation.get("sample_sizes") or {}).items()):
            if sizes.get(key) != int(value):
                return f"sample size {key}={value} is not the track's {key}={sizes.get(key)}"
        if (run.get("kind") or "trained") in BUDGET_KINDS and self.training:
            trained = training_of(run)
            for key, value in self.training:
                if trained.get(key) != value:
                    return f"training {key}={trained.get(key)} is not the track's {key}={value}"
        return None


def evaluation_protocol(evaluation: Mapping[str, Any]) -> tuple[str, int]:
    """(protocol, definition version) of a metrics-driver result; results written before versions were recorded
    are version 1."""
    protocol = str(evaluation.get("protocol"))
    recorded = str((evaluation.get("versions") or {}).get("protocol") or "")
    name, _, version = recorded.partition("/")
    if name == protocol and version.isdigit():
        return protocol, int(version)
    return protocol, 1


def evaluation_key(track: Track | None, evaluation: Mapping[str, Any]) -> str:
    """What tells one evaluation of a run from another besides representation, protocol and seed: the track's id,
    or for an ad hoc evaluation "adhoc-" and a hash of its protocol version and sample sizes. The store keeps one
    evaluation per key, so scoring a run for a track never replaces its ad hoc scores, nor the other way round."""
    if track is not None:
        return track.id
    protocol, version = evaluation_protocol(evaluation)
    contract = {"protocol": f"{protocol}/{version}", "sample_sizes": dict(evaluation.get("sample_sizes") or {})}
    return "adhoc-" + hashlib.sha256(json.dumps(contract, sort_keys=True).encode()).hexdigest()[:12]


def training_of(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run's training budget: its `training` dict, else what its provenance says (config.json of a trained run,
    the manifest fields of a baseline), with the run's steps. Fields nobody recorded are left out."""
    found = dict(run.get("training") or {})
    if found:
        return found
    provenance = run.get("provenance") or {}
    source = provenance.get("config") if isinstance(provenance.get("config"), Mapping) else provenance
    out = {key: source[key] for key in TRAINING_FIELDS if source.get(key) is not None}
    if run.get("steps") is not None:
        out["steps"] = int(run["steps"])
    return normalise_training(out)


def normalise_training(training: Mapping[str, Any]) -> dict[str, Any]:
    """Typed training fields (ints, a float learning rate, a bool step counter), unknown keys dropped."""
    kinds = {"steps": int, "batch_size": int, "num_latents": int, "learning_rate": float, "architecture": str,
             "dlib_step_counter": bool}
    return {key: kinds[key](training[key]) for key in TRAINING_FIELDS if training.get(key) is not None}


def _study_tracks() -> list[Track]:
    from factorbench import datasets
    from factorbench.benchmark.baselines import EVALUATION
    from factorbench.benchmark.studies import LOCATELLO2019, TINY
    from factorbench.metrics.driver import DEFAULT_SIZES, PROTOCOL_VERSIONS, PROTOCOLS

    def budget(study) -> tuple[tuple[str, Any], ...]:
        return tuple(normalise_training({
            "steps": study.steps, "batch_size": study.batch_size, "learning_rate": study.learning_rate,
            "architecture": study.architecture, "num_latents": study.num_latents, "dlib_step_counter": False,
        }).items())

    def sizes(overrides: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted({**DEFAULT_SIZES, **dict(overrides)}.items()))

    tracks = []
    for name in datasets.names():
        if name in _NO_TRACK_DATASETS:
            continue
        version = datasets.load(name).info.version
        for protocol in PROTOCOLS:
            tracks.append(Track(
                name=f"{name}-{protocol}", version=1, dataset=name, dataset_version=version, protocol=protocol,
                protocol_version=PROTOCOL_VERSIONS[protocol], sample_sizes=sizes({}), training=budget(LOCATELLO2019),
                family=f"study-{protocol}",
                description=f"{name} at the {LOCATELLO2019.name} study's sizes and budget, protocol {protocol}"))
    sprites = datasets.load(QUICKSTART_DATASET).info.version
    tracks.append(Track(
        name="quickstart", version=1, dataset=QUICKSTART_DATASET, dataset_version=sprites,
        protocol=EVALUATION["protocol"], protocol_version=PROTOCOL_VERSIONS[EVALUATION["protocol"]],
        sample_sizes=sizes(EVALUATION["sizes"]), eval_seeds=(int(EVALUATION["seed"]),),
        training=tuple(normalise_training(QUICKSTART_TRAINING).items()), family="quickstart",
        description="factorbench quickstart: the fast protocol on small samples and a short training (numbers "
                    "comparable only with each other)"))
    tiny_dataset = TINY.datasets[0].candidates[0]
    tracks.append(Track(
        name=TINY.name, version=1, dataset=tiny_dataset, dataset_version=datasets.load(tiny_dataset).info.version,
        protocol=TINY.protocol, protocol_version=PROTOCOL_VERSIONS[TINY.protocol],
        sample_sizes=sizes(dict(TINY.sample_sizes)), training=budget(TINY), family=TINY.name,
        description=TINY.description))
    return tracks


@functools.cache
def builtin() -> dict[str, Track]:
    """The built-in tracks by name."""
    return {track.name: track for track in _study_tracks()}


_REGISTERED: dict[str, Track] = {}


def register(track: Track) -> Track:
    """Add a track (a custom contract, e.g. small sizes for a test) under its name, for this process; a name can be
    registered once. Stores keep the contract of every track they record, so a site built elsewhere still shows
    it."""
    if track.name in builtin() or track.name in _REGISTERED:
        raise ValueError(f"track {track.name!r} is already registered")
    _REGISTERED[track.name] = track
    return track


def every() -> dict[str, Track]:
    """Built-in and registered tracks by name."""
    return {**builtin(), **_REGISTERED}


def names() -> list[str]:
    return list(every())


def get(name: str) -> Track:
    """A track by name; an unknown name raises ValueError with a suggestion."""
    tracks = every()
    if name not in tracks:
        close = difflib.get_close_matches(name, tracks, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown track {name!r}.{hint} `factorbench results tracks` lists the {len(tracks)} "
                         "tracks")
    return tracks[name]


def default_for(dataset: str) -> Track:
    """The track `submit` uses when none is named: the dataset's fast track."""
    name = f"{dataset}-fast"
    if name not in every():
        raise ValueError(f"dataset {dataset!r} has no default track ({name}); name one with --track "
                         "(`factorbench results tracks` lists them)")
    return get(name)


def resolve(run: Mapping[str, Any], evaluation: Mapping[str, Any], representation: str = "mean", *,
            requested: str | None = None) -> Track | None:
    """The built-in track an evaluation of `run` meets, or None (ad hoc).

    requested: a track name the caller evaluated for; when given, that track must be met (ValueError saying which
    field differs otherwise), so a result can never claim a track it did not meet.
    """
    if requested is not None:
        track = get(requested)
        why = track.mismatch(run, evaluation, representation)
        if why is not None:
            raise ValueError(f"the evaluation does not meet track {requested}: {why}")
        return track
    for track in every().values():
        if track.mismatch(run, evaluation, representation) is None:
            return track
    return None
