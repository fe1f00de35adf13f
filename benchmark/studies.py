"""Studies: named, numbered grids of training configurations (the Locatello et al. 2019 study and small ones).

A study is a product datasets x methods x values x seeds, numbered like disentanglement_lib numbers
unsupervised_study_v1 (config/unsupervised_study_v1/sweep.py there):

    model_num = dataset_index * (methods * values * seeds) + (method_index * values + value_index) * seeds + seed

which for the published grid (7 datasets, 6 methods, 6 values, 50 seeds) is dlib's
`model_num = dataset * 1800 + model * 50 + seed` with model = method * 6 + value. Dataset slots carry dlib's names;
`resolve_dataset` maps each slot to a factorbench dataset: the real files when a loader for them is registered and
the files are present, otherwise the procedural twin (dSprites family -> the sprites family), otherwise a clear error.

>>> study = get_study("locatello2019")
>>> config = study.config(300)
>>> config.model, config.hparams, config.seed, config.dataset_slot
('factor_vae', {'gamma': 10.0}, 0, 'dsprites_full')

Defaults live here (the study definition): steps, batch size, architecture, evaluation protocol and metrics.
Differs from disentanglement_lib: dlib advances FactorVAE's global step twice per iteration, so its 300,000
"steps" are 150,000 updates of each network; ours counts real updates, 300,000 for every method.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

from factorbench.models.study_settings import (
    STUDY_ARCHITECTURE,
    STUDY_BATCH_SIZE,
    STUDY_LEARNING_RATE,
    STUDY_NUM_LATENTS,
    STUDY_STEPS,
)


@dataclasses.dataclass(frozen=True)
class Method:
    """One objective of a study with its swept hyperparameter and values, plus fixed hyperparameters.

    `gin` is how disentanglement_lib binds it: (model.model value, gin scope of the hyperparameters, extra fixed
    bindings in dlib's order, position of the swept binding among them), used only to print dlib's configuration.
    """

    objective: str
    sweep_param: str
    values: tuple[float, ...]
    fixed: tuple[tuple[str, Any], ...] = ()
    gin: tuple[str, str, tuple[str, ...]] = ("", "", ())

    @property
    def fixed_hparams(self) -> dict[str, Any]:
        return dict(self.fixed)


@dataclasses.dataclass(frozen=True)
class DatasetSlot:
    """A dataset position in a study: dlib's name and the factorbench datasets that can fill it, best first."""

    name: str
    candidates: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()
    missing: str = ""  # what to tell the user when no candidate is available


@dataclasses.dataclass(frozen=True)
class Config:
    """One numbered training configuration of a study."""

    study: str
    model_num: int
    dataset_slot: str
    dataset_index: int
    model: str
    model_index: int  # dlib's model index within a dataset: method_index * len(values) + value_index
    hparams: dict[str, Any]
    seed: int
    steps: int
    batch_size: int
    architecture: str
    dlib_bindings: tuple[str, ...]

    @property
    def run_id(self) -> str:
        """The store id of this configuration's run: study and zero-padded model number."""
        return f"{self.study}-{self.model_num:05d}"

    @property
    def name(self) -> str:
        hparams = "-".join(f"{k}{_short(v)}" for k, v in self.hparams.items())
        return f"{self.study}-{self.model_num:05d}-{self.dataset_slot}-{self.model}-{hparams}-s{self.seed}"

    @property
    def group(self) -> tuple[str, str]:
        """Configurations with the same group train together as one ensemble."""
        return (self.dataset_slot, self.model)

    def member(self) -> dict[str, Any]:
        """The member dict `factorbench.models.train_ensemble` takes: seed plus hyperparameters."""
        return {"seed": self.seed, **self.hparams}


@dataclasses.dataclass(frozen=True)
class Study:
    """A named grid of configurations, with how to train and evaluate them."""

    name: str
    description: str
    datasets: tuple[DatasetSlot, ...]
    methods: tuple[Method, ...]
    seeds: int
    steps: int
    batch_size: int = STUDY_BATCH_SIZE
    architecture: str = STUDY_ARCHITECTURE
    learning_rate: float = STUDY_LEARNING_RATE
    num_latents: int = STUDY_NUM_LATENTS
    protocol: str = "dlib"
    metrics: tuple[str, ...] | None = None  # None: every metric
    representations: tuple[str, ...] = ("mean", "sampled")
    sample_sizes: tuple[tuple[str, int], ...] = ()  # evaluation sample-size overrides (a shortened evaluation)
    full_steps: int = STUDY_STEPS  # the published step count; runs with fewer steps are labelled shortened
    citation: str = ""

    @property
    def values_per_method(self) -> int:
        sizes = {len(m.values) for m in self.methods}
        if len(sizes) != 1:
            raise ValueError(f"study {self.name}: every method needs the same number of values, got {sizes}")
        return sizes.pop()

    @property
    def models_per_dataset(self) -> int:
        return len(self.methods) * self.values_per_method

    def __len__(self) -> int:
        return len(self.datasets) * self.models_per_dataset * self.seeds

    def config(self, model_num: int) -> Config:
        """The configuration numbered `model_num` (dlib's numbering)."""
        if not 0 <= model_num < len(self):
            raise ValueError(f"model number {model_num} is outside study {self.name} (0 .. {len(self) - 1})")
        dataset_index, rest = divmod(model_num, self.models_per_dataset * self.seeds)
        model_index, seed = divmod(rest, self.seeds)
        method_index, value_index = divmod(model_index, self.values_per_method)
        slot, method = self.datasets[dataset_index], self.methods[method_index]
        value = method.values[value_index]
        hparams = {method.sweep_param: value, **method.fixed_hparams}
        return Config(
            study=self.name, model_num=model_num, dataset_slot=slot.name, dataset_index=dataset_index,
            model=method.objective, model_index=model_index, hparams=hparams, seed=seed, steps=self.steps,
            batch_size=self.batch_size, architecture=self.architecture,
            dlib_bindings=_dlib_bindings(slot.name, method, value, seed),
        )

    def configs(self, *, datasets: Sequence[str] | None = None, models: Sequence[str] | None = None,
                seeds: Iterable[int] | None = None, model_nums: Iterable[int] | None = None,
                hparams: dict[str, Sequence[float]] | None = None) -> list[Config]:
        """The configurations matching every given selection, in model-number order.

        datasets: dlib slot names (dsprites_full ...) or the factorbench names filling them (sprites ...);
        models: objective names; seeds: training seeds; model_nums: explicit numbers;
        hparams: {name: allowed values} (e.g. {"beta": [1, 4]}).
        """
        if datasets is not None:
            datasets = [self._slot_name(d) for d in datasets]
        if models is not None:
            known = [m.objective for m in self.methods]
            for model in models:
                if model not in known:
                    close = difflib.get_close_matches(model, known, n=1)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    raise ValueError(f"study {self.name} has no model {model!r}.{hint} Models: {', '.join(known)}")
        seeds = None if seeds is None else set(seeds)
        if seeds is not None and not seeds <= set(range(self.seeds)):
            raise ValueError(f"study {self.name} has seeds 0 .. {self.seeds - 1}; got {sorted(seeds)}")
        numbers = range(len(self)) if model_nums is None else sorted(set(model_nums))
        out = []
        for number in numbers:
            config = self.config(number)
            if datasets is not None and config.dataset_slot not in datasets:
                continue
            if models is not None and config.model not in models:
                continue
            if seeds is not None and config.seed not in seeds:
                continue
            if hparams and not all(_matches(config.hparams.get(k), allowed) for k, allowed in hparams.items()):
                continue
            out.append(config)
        return out

    def slot(self, name: str) -> DatasetSlot:
        name = self._slot_name(name)
        return next(s for s in self.datasets if s.name == name)

    def _slot_name(self, name: str) -> str:
        for slot in self.datasets:
            if name == slot.name or name in slot.candidates:
                return slot.name
        known = [s.name for s in self.datasets]
        close = difflib.get_close_matches(name, known + [c for s in self.datasets for c in s.candidates], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"study {self.name} has no dataset {name!r}.{hint} Datasets: {', '.join(known)}")

    def shortened(self, steps: int) -> bool:
        """Whether a run of `steps` steps is shorter than the published protocol."""
        return steps < self.full_steps


def _matches(value: Any, allowed: Sequence[float]) -> bool:
    """Whether `value` is (numerically) one of `allowed`."""
    return value is not None and any(math.isclose(float(value), float(candidate)) for candidate in allowed)


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _gin_value(value: Any) -> str:
    """A value as dlib's hyperparams.to_bindings writes it: strings quoted unless they reference (@...)."""
    if isinstance(value, str) and not value.startswith("@"):
        return f"'{value}'"
    return str(value)


def _dlib_bindings(dataset: str, method: Method, value: float, seed: int) -> tuple[str, ...]:
    """The gin bindings dlib's `dlib_reproduce --only_print` shows for this configuration, in its order."""
    model_fn, scope, order = method.gin
    if not model_fn:
        return ()
    fixed = {f"{scope}.{k}": v for k, v in method.fixed}
    lookup = {"model.name": method.objective, "model.model": model_fn,
              f"{scope}.{method.sweep_param}": value, **fixed,
              "discriminator.discriminator_fn": "@fc_discriminator",
              "dip_vae.dip_type": _DIP_TYPE.get(method.objective)}
    lines = [f"dataset.name = {_gin_value(dataset)}", "encoder.encoder_fn = @conv_encoder",
             "decoder.decoder_fn = @deconv_decoder"]
    lines += [f"{key} = {_gin_value(lookup[key])}" for key in order]
    lines.append(f"model.random_seed = {seed}")
    return tuple(lines)


# disentanglement_lib's unsupervised_study_v1 (Locatello et al., ICML 2019): methods in dlib's order, six values each.
# The gin order lists the bindings in the order dlib's sweep.py zips them (it decides the printed order only).
LOCATELLO_METHODS = (
    Method("beta_vae", "beta", (1.0, 2.0, 4.0, 6.0, 8.0, 16.0),
           gin=("@vae()", "vae", ("model.name", "vae.beta", "model.model"))),
    Method("factor_vae", "gamma", (10.0, 20.0, 30.0, 40.0, 50.0, 100.0),
           gin=("@factor_vae()", "factor_vae",
                ("model.name", "factor_vae.gamma", "model.model", "discriminator.discriminator_fn"))),
    Method("dip_vae_i", "lambda_od", (1.0, 2.0, 5.0, 10.0, 20.0, 50.0), fixed=(("lambda_d_factor", 10.0),),
           gin=("@dip_vae()", "dip_vae", ("model.name", "model.model", "dip_vae.lambda_od", "dip_vae.lambda_d_factor",
                                          "dip_vae.dip_type"))),
    Method("dip_vae_ii", "lambda_od", (1.0, 2.0, 5.0, 10.0, 20.0, 50.0), fixed=(("lambda_d_factor", 1.0),),
           gin=("@dip_vae()", "dip_vae", ("model.name", "model.model", "dip_vae.lambda_od", "dip_vae.lambda_d_factor",
                                          "dip_vae.dip_type"))),
    Method("beta_tc_vae", "beta", (1.0, 2.0, 4.0, 6.0, 8.0, 10.0),
           gin=("@beta_tc_vae()", "beta_tc_vae", ("model.name", "model.model", "beta_tc_vae.beta"))),
    Method("annealed_vae", "c_max", (5.0, 10.0, 25.0, 50.0, 75.0, 100.0),
           fixed=(("iteration_threshold", 100000), ("gamma", 1000)),
           gin=("@annealed_vae()", "annealed_vae", ("model.name", "annealed_vae.c_max",
                                                    "annealed_vae.iteration_threshold", "annealed_vae.gamma",
                                                    "model.model"))),
)
_DIP_TYPE = {"dip_vae_i": "i", "dip_vae_ii": "ii"}

LOCATELLO_DATASETS = (
    DatasetSlot("dsprites_full", ("dsprites", "sprites")),
    DatasetSlot("color_dsprites", ("color_dsprites", "sprites_color")),
    DatasetSlot("noisy_dsprites", ("noisy_dsprites", "sprites_noisy")),
    DatasetSlot("scream_dsprites", ("scream_dsprites", "sprites_textured")),
    DatasetSlot("smallnorb", ("smallnorb",), missing="needs the SmallNORB files (no procedural twin exists); "
                "put them where the smallnorb loader looks, or select other datasets with --dataset"),
    DatasetSlot("cars3d", ("cars3d",), missing="needs the Cars3D files (no procedural twin exists); put them "
                "where the cars3d loader looks, or select other datasets with --dataset"),
    DatasetSlot("shapes3d", ("shapes3d", "scenes3d"),
                missing="needs the 3dshapes.h5 file or its procedural twin; select other datasets with --dataset"),
)

LOCATELLO2019 = Study(
    name="locatello2019",
    description="Locatello et al. (ICML 2019) unsupervised_study_v1: 7 datasets x 6 methods x 6 values x 50 seeds "
    "= 12,600 models, numbered as in disentanglement_lib",
    datasets=LOCATELLO_DATASETS, methods=LOCATELLO_METHODS, seeds=50, steps=STUDY_STEPS, batch_size=STUDY_BATCH_SIZE,
    architecture=STUDY_ARCHITECTURE, protocol="dlib", metrics=None, representations=("mean", "sampled"),
    citation="Locatello et al., Challenging Common Assumptions in the Unsupervised Learning of Disentangled "
    "Representations, ICML 2019 (arXiv 1811.12359)",
)

TINY = Study(
    name="tiny",
    description="A smoke-test study: sprites, 2 methods x 2 values x 2 seeds, a few steps, a fast shortened "
    "evaluation (MIG and SAP on small samples); minutes on a CPU, numbers meaningless",
    datasets=(DatasetSlot("dsprites_full", ("sprites",)),),
    methods=(Method("beta_vae", "beta", (1.0, 4.0)), Method("beta_tc_vae", "beta", (1.0, 6.0))),
    seeds=2, steps=200, batch_size=16, architecture="conv", protocol="fast", metrics=("mig", "sap"),
    representations=("mean",), sample_sizes=(("train", 512), ("test", 256)),
)

STUDIES: dict[str, Study] = {study.name: study for study in (LOCATELLO2019, TINY)}
ALIASES = {"unsupervised_study_v1": "locatello2019", "locatello": "locatello2019"}


def names() -> list[str]:
    """The registered study names."""
    return list(STUDIES)


def get_study(name: str) -> Study:
    """A study by name (or alias); an unknown name raises ValueError with a suggestion."""
    name = ALIASES.get(name, name)
    if name not in STUDIES:
        close = difflib.get_close_matches(name, list(STUDIES) + list(ALIASES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown study {name!r}.{hint} Studies: {', '.join(STUDIES)}")
    return STUDIES[name]


def register(study: Study) -> None:
    """Add a study (e.g. a custom grid) under its name; a name can be registered once."""
    if study.name in STUDIES:
        raise ValueError(f"study {study.name!r} is already registered")
    STUDIES[study.name] = study


def resolve_dataset(slot: DatasetSlot) -> tuple[str, dict[str, Any]]:
    """The factorbench dataset (name, load options) that fills a study's dataset slot on this machine.

    The first registered candidate whose images are available here wins (`check_available`: a loader of user files
    is available when its files are present, a procedural twin always).
    Raises FileNotFoundError with the slot's message when none is available.
    """
    from factorbench import datasets

    registered = set(datasets.names())
    problems = []
    for candidate in slot.candidates:
        if candidate not in registered:
            continue
        try:
            datasets.load(candidate, **dict(slot.options)).check_available()
        except (OSError, ValueError) as err:
            problems.append(f"{candidate}: {err}")
            continue
        return candidate, dict(slot.options)
    for name in sorted(registered - set(slot.candidates)):  # a twin declaring itself comparable to the slot
        ds = datasets.load(name) if name != "identity" else None
        if ds is not None and getattr(ds.info, "comparable_to", "") == slot.name:
            try:
                ds.check_available()
            except (OSError, ValueError):
                continue
            return name, {}
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise FileNotFoundError(f"dataset slot {slot.name!r} {slot.missing or 'has no available dataset'}{detail}")


def describe(config: Config, study: Study | None = None, *, steps: int | None = None, protocol: str | None = None,
             metrics: Sequence[str] | None = None, sample_sizes: dict[str, int] | None = None,
             eval_seed: int = 0) -> str:
    """A human-readable block: dlib's gin bindings for the configuration and exactly what factorbench runs for it,
    with the given overrides of the study's steps, protocol, metrics and sample sizes, and the track its scores
    will be recorded in (or that they are ad hoc)."""
    from factorbench.benchmark import tracks
    from factorbench.metrics.driver import DEFAULT_SIZES, PROTOCOL_VERSIONS

    study = study or get_study(config.study)
    steps = config.steps if steps is None else int(steps)
    protocol = protocol or study.protocol
    sizes = {**DEFAULT_SIZES, **dict(study.sample_sizes), **dict(sample_sizes or {})}
    dataset_version = None
    try:
        dataset, options = resolve_dataset(study.slot(config.dataset_slot))
        dataset_text = dataset + (f" {options}" if options else "")
        from factorbench import datasets

        dataset_version = datasets.load(dataset, **options).info.version
    except FileNotFoundError as err:
        dataset, dataset_text = None, f"unavailable here: {err}"
    lines = [f"{study.name} model {config.model_num} (run id {config.run_id})", ""]
    if config.dlib_bindings:
        lines += ["Gin bindings for model training (disentanglement_lib):", "--", *config.dlib_bindings, ""]
    hparams = ", ".join(f"{k}={_short(v)}" for k, v in config.hparams.items())
    training = {"steps": steps, "batch_size": study.batch_size, "learning_rate": study.learning_rate,
                "architecture": study.architecture, "num_latents": study.num_latents, "dlib_step_counter": False}
    track = None
    if dataset is not None:
        track = tracks.resolve({"dataset": dataset, "dataset_version": dataset_version, "kind": "trained",
                                "training": training},
                               {"protocol": protocol, "seed": eval_seed, "sample_sizes": sizes,
                                "versions": {"protocol": f"{protocol}/{PROTOCOL_VERSIONS[protocol]}"}})
    shortened = " (shortened: the study trains 300,000)" if study.shortened(steps) else ""
    lines += [
        "factorbench configuration:", "--",
        f"dataset        {config.dataset_slot} -> {dataset_text}",
        f"objective      {config.model} ({hparams})",
        f"seed           {config.seed}",
        f"steps          {steps:,} real updates{shortened}",
        f"batch size     {study.batch_size}",
        f"learning rate  {study.learning_rate:g} (Adam)",
        f"architecture   {study.architecture}, {study.num_latents} latents",
        f"evaluation     protocol {protocol}/{PROTOCOL_VERSIONS[protocol]}, evaluation seed {eval_seed}, metrics "
        f"{', '.join(metrics or study.metrics or ()) or 'all'}, representations {', '.join(study.representations)}",
        "sample sizes   " + ", ".join(f"{k}={v}" for k, v in sizes.items()),
        f"track          {track.name} v{track.version} ({track.id})" if track is not None else
        "track          none: the scores will be recorded ad hoc (not ranked)",
    ]
    return "\n".join(lines)


def parse_seeds(text: str) -> list[int]:
    """Seeds from "0-4", "0,3,7" or a mix ("0-2,10"); raises ValueError on anything else."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            if "-" in part:
                low, high = (int(x) for x in part.split("-", 1))
                if high < low:
                    raise ValueError
                seeds.extend(range(low, high + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"cannot read seeds {text!r}: write them like 0-4 or 0,3,7") from None
    if not seeds:
        raise ValueError(f"cannot read seeds {text!r}: write them like 0-4 or 0,3,7")
    return sorted(set(seeds))
