"""Sweeps: plan the unfinished configurations of a study, run them on an executor, record results in the store.

A *task* trains one ensemble (the selected configurations of one method on one dataset) and evaluates its members;
it returns plain dicts and never touches the store: only the driver (`run_sweep`, in the calling process) writes,
one transaction per run. Executors run tasks: `LocalExecutor` in this process, one after the other;
`RayExecutor` on a Ray cluster (a local one it starts, or an existing one at `address`).

Resuming: a configuration whose run is done and scored (every representation, under the sweep's protocol and
evaluation seed) is skipped; a done but unscored run is only evaluated; any other run is trained again, from its
latest checkpoint when the training engine finds one in the run directory.

>>> study = get_study("tiny")
>>> summary = run_sweep(study, study.configs(), store=ResultsStore(), out_dir="factorbench-out")
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from factorbench.benchmark.store import ResultsStore
from factorbench.benchmark.studies import Config, Study, resolve_dataset
from factorbench.models.study_settings import STUDY_LEARNING_RATE, STUDY_NUM_LATENTS

EXECUTORS = ("local", "ray")


@dataclasses.dataclass
class Member:
    """One configuration inside a task: what to do for it."""

    run_id: str
    name: str
    model_num: int
    seed: int
    hparams: dict[str, Any]
    train: bool  # False: the run dir is done, only evaluate
    run_dir: str | None
    representations: list[str]  # the representations still to evaluate


@dataclasses.dataclass
class Task:
    """Train one ensemble (members with train=True) and evaluate its members; runs anywhere, writes no store."""

    key: str
    dataset: str
    dataset_options: dict[str, Any]
    objective: str
    members: list[Member]
    steps: int
    batch_size: int
    architecture: str
    out_dir: str
    metrics: list[str] | None
    protocol: str
    eval_seed: int
    sample_sizes: dict[str, int] | None
    progress: bool = True
    learning_rate: float = STUDY_LEARNING_RATE  # the study's (`Study.learning_rate`), passed on by plan_sweep
    num_latents: int = STUDY_NUM_LATENTS


def run_task(task: Task) -> list[dict[str, Any]]:
    """Train the task's ensemble and evaluate its members; one result dict per member.

    A result holds run_id, run_dir, record (the store row), training (final statistics), evaluations
    {representation: evaluation} and error (None, or the traceback text of what failed for that member).
    """
    from factorbench.benchmark import runs

    results = {m.run_id: {"run_id": m.run_id, "run_dir": m.run_dir, "error": None, "evaluations": {}}
               for m in task.members}
    to_train = [m for m in task.members if m.train]
    if to_train:
        try:
            from factorbench import datasets
            from factorbench.models import train_ensemble

            dataset = datasets.load(task.dataset, **task.dataset_options)
            log_every = min(500, task.steps)  # the engine wants checkpoints at multiples of its log interval
            paths = train_ensemble(dataset, task.objective, [{"seed": m.seed, **m.hparams} for m in to_train],
                                   task.steps, task.out_dir, batch_size=task.batch_size,
                                   architecture=task.architecture, learning_rate=task.learning_rate,
                                   num_latents=task.num_latents, progress=task.progress, log_every=log_every,
                                   checkpoint_every=max(1, 10_000 // log_every) * log_every)
            if len(paths) != len(to_train):
                raise RuntimeError(f"train_ensemble returned {len(paths)} run dirs for {len(to_train)} members")
            for member, path in zip(to_train, paths):
                results[member.run_id]["run_dir"] = str(Path(path).resolve())
        except Exception:  # a failed ensemble fails its members; the sweep goes on and retries them next time
            error = traceback.format_exc()
            for member in to_train:
                results[member.run_id]["error"] = f"training failed:\n{error}"
    for member in task.members:
        result = results[member.run_id]
        if result["error"] is not None or result["run_dir"] is None:
            result["error"] = result["error"] or "no run directory"
            continue
        try:
            result["config"] = runs.read_config(result["run_dir"])
            result["training"] = runs.training_statistics(result["run_dir"])
            for representation in member.representations:
                result["evaluations"][representation] = runs.evaluate_run_dir(
                    result["run_dir"], metrics=task.metrics, protocol=task.protocol, seed=task.eval_seed,
                    representation=representation, sample_sizes=task.sample_sizes, progress=task.progress)
        except Exception:
            result["error"] = f"evaluation failed:\n{traceback.format_exc()}"
    return list(results.values())


class LocalExecutor:
    """Runs tasks one after the other in this process."""

    name = "local"

    def map(self, fn: Callable[[Task], Any], tasks: Sequence[Task]) -> Iterator[Any]:
        for task in tasks:
            yield fn(task)


class RayExecutor:
    """Runs tasks as Ray tasks: on a local cluster it starts (and stops) itself, or on the cluster at `address`.

    Args:
        address: a running cluster ("auto", "ray://host:10001", "host:6379"); None starts a local one.
        num_cpus: CPUs of the local cluster (None: all of this machine's).
        cpus_per_task: CPUs Ray reserves per task (a training ensemble).
        gpus_per_task: GPUs Ray reserves per task.
        max_retries: how often Ray reruns a task whose worker died (training resumes from its checkpoint).
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None, cpus_per_task: float = 1,
                 gpus_per_task: float = 0, max_retries: int = 1):
        self.address, self.num_cpus = address, num_cpus
        self.cpus_per_task, self.gpus_per_task, self.max_retries = cpus_per_task, gpus_per_task, max_retries

    def map(self, fn: Callable[[Task], Any], tasks: Sequence[Task]) -> Iterator[Any]:
        try:
            import ray
        except ImportError:
            raise ValueError("the ray executor needs Ray: pip install 'factorbench[ray]'") from None
        started = not ray.is_initialized()
        if started:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
            if self.address is None:
                options["num_cpus"] = self.num_cpus
            ray.init(address=self.address, **options)
        try:
            remote = ray.remote(num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task,
                                max_retries=self.max_retries)(fn)
            pending = [remote.remote(task) for task in tasks]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:
            if started:
                ray.shutdown()


def make_executor(name: str = "local", *, address: str | None = None, num_cpus: int | None = None,
                  **options: Any) -> LocalExecutor | RayExecutor:
    """An executor by name ("local" or "ray"); `address` joins an existing Ray cluster."""
    if name == "local":
        if address is not None:
            raise ValueError("--address is for the ray executor; add --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address, num_cpus=num_cpus, **options)
    raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


@dataclasses.dataclass
class SweepPlan:
    """What a sweep will do: tasks to run, configurations skipped because they are already done."""

    tasks: list[Task]
    skipped: list[Config]
    configs: dict[str, Config]  # by run id
    shortened: bool
    steps: int

    @property
    def to_train(self) -> int:
        return sum(m.train for t in self.tasks for m in t.members)

    @property
    def to_evaluate(self) -> int:
        return sum(1 for t in self.tasks for m in t.members if m.representations)


def run_id_for(config: Config, study: Study, steps: int) -> str:
    """The store id of a configuration's run; a run with other than the study's steps gets its own id."""
    return config.run_id if steps == study.steps else f"{config.run_id}-{steps}steps"


def plan_sweep(study: Study, configs: Iterable[Config], *, store: ResultsStore, out_dir: str | Path,
               steps: int | None = None, metrics: Sequence[str] | None = None, protocol: str | None = None,
               eval_seed: int = 0, sample_sizes: Mapping[str, int] | None = None,
               representations: Sequence[str] | None = None, progress: bool = True) -> SweepPlan:
    """Group the unfinished configurations into ensemble tasks (one per dataset slot and method)."""
    from factorbench.benchmark import runs

    steps = study.steps if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    protocol = protocol or study.protocol
    metrics = list(metrics) if metrics is not None else (list(study.metrics) if study.metrics else None)
    sample_sizes = dict(sample_sizes) if sample_sizes is not None else (dict(study.sample_sizes) or None)
    representations = list(representations or study.representations)
    groups: dict[tuple[str, str], list[Member]] = {}
    skipped, by_id, slots = [], {}, {}
    for config in configs:
        run_id = run_id_for(config, study, steps)
        by_id[run_id] = config
        if config.dataset_slot not in slots:
            slots[config.dataset_slot] = resolve_dataset(study.slot(config.dataset_slot))
        stored = store.run(run_id)
        run_dir = stored.get("run_dir") if stored else None
        trained = bool(run_dir) and _run_dir_done(run_dir, runs)
        missing = [r for r in representations
                   if not (trained and _evaluated(store, run_id, r, protocol, eval_seed, metrics))]
        if trained and not missing:
            skipped.append(config)
            continue
        groups.setdefault(config.group, []).append(Member(
            run_id=run_id, name=f"{config.name}" + ("" if steps == study.steps else f"-{steps}steps"),
            model_num=config.model_num, seed=config.seed, hparams=dict(config.hparams), train=not trained,
            run_dir=run_dir if trained else None, representations=missing))
    tasks = []
    for (slot, model), members in groups.items():
        dataset, options = slots[slot]
        tasks.append(Task(
            key=f"{slot}/{model}", dataset=dataset, dataset_options=options, objective=model, members=members,
            steps=steps, batch_size=study.batch_size, architecture=study.architecture,
            learning_rate=study.learning_rate, num_latents=study.num_latents,
            out_dir=str(Path(out_dir).resolve() / study.name / slot / model / f"steps{steps}"), metrics=metrics,
            protocol=protocol, eval_seed=eval_seed, sample_sizes=sample_sizes, progress=progress))
    return SweepPlan(tasks=tasks, skipped=skipped, configs=by_id, shortened=study.shortened(steps), steps=steps)


def _evaluated(store: ResultsStore, run_id: str, representation: str, protocol: str, eval_seed: int,
               metrics: Sequence[str] | None) -> bool:
    """Whether the store holds scores of the run for this representation, protocol, seed (and every metric)."""
    found = {s["metric"] for s in store.scores([run_id], representation=representation, protocol=protocol)
             if s["eval_seed"] == eval_seed}
    return bool(found) and (metrics is None or set(metrics) <= found)


def _run_dir_done(run_dir: str, runs: Any) -> bool:
    try:
        return runs.read_config(run_dir).get("status") == "done"
    except (FileNotFoundError, ValueError):
        return False


def run_sweep(study: Study, configs: Iterable[Config], *, store: ResultsStore, out_dir: str | Path,
              executor: LocalExecutor | RayExecutor | None = None, steps: int | None = None,
              metrics: Sequence[str] | None = None, protocol: str | None = None, eval_seed: int = 0,
              sample_sizes: Mapping[str, int] | None = None, representations: Sequence[str] | None = None,
              progress: bool = True, command: str | None = None) -> dict[str, Any]:
    """Run every unfinished configuration and record each run (with its scores) in `store` as it completes.

    Returns a summary: {"recorded": [run ids], "skipped": [run ids], "failed": {run id: error text}}.
    """
    from tqdm import tqdm

    from factorbench.benchmark import runs

    executor = executor or LocalExecutor()
    plan = plan_sweep(study, configs, store=store, out_dir=out_dir, steps=steps, metrics=metrics,
                      protocol=protocol, eval_seed=eval_seed, sample_sizes=sample_sizes,
                      representations=representations, progress=progress)
    summary: dict[str, Any] = {"recorded": [], "skipped": [run_id_for(c, study, plan.steps) for c in plan.skipped],
                               "failed": {}}
    members = {m.run_id: m for t in plan.tasks for m in t.members}
    bar = tqdm(total=len(members), desc=f"sweep {study.name} ({executor.name})", unit="run", disable=not progress)
    for results in executor.map(run_task, plan.tasks):
        for result in results:
            run_id, config, member = result["run_id"], plan.configs[result["run_id"]], members[result["run_id"]]
            provenance = {"study": study.name, "model_num": config.model_num, "dataset_slot": config.dataset_slot,
                          "executor": executor.name, "command": command,
                          "evaluation_shortened": bool(plan.tasks and plan.tasks[0].sample_sizes)}
            if result["error"] is not None:
                summary["failed"][run_id] = result["error"]
            if result.get("config") is None:  # nothing trained: remember the failure, retry next time
                if store.run(run_id) is None or store.run(run_id)["status"] != "done":
                    store.record_run({"run_id": run_id, "name": member.name, "dataset": _task_of(plan, run_id),
                                      "model": config.model, "hparams": config.hparams, "seed": config.seed,
                                      "steps": plan.steps, "status": "failed", "shortened": plan.shortened,
                                      "provenance": {**provenance, "error": (result["error"] or "")[-2000:]}})
            else:  # trained: record it with whatever evaluations succeeded (a rerun evaluates the rest)
                record = runs.run_record(result["run_dir"], run_id=run_id, name=member.name,
                                         provenance=provenance, shortened=plan.shortened)
                runs.record_results(store, record, result.get("training"), result["evaluations"])
                if result["error"] is None:
                    summary["recorded"].append(run_id)
            bar.update(1)
    bar.close()
    return summary


def _task_of(plan: SweepPlan, run_id: str) -> str:
    return next(t.dataset for t in plan.tasks for m in t.members if m.run_id == run_id)
