"""Batch evaluation: run a RAG pipeline over a dataset, resumably, and write the results.

`run_eval` writes into `out_dir`:
- `run.json`: the configuration (dataset fingerprint, pipeline, options, library versions),
  written first; a resumed run must match it.
- `results.jsonl`: one record per example (eval/records.py), appended and fsync'ed as each
  example finishes, in completion order (the summary sorts by dataset position).
- `summary.json`, `summary.csv` (eval/summary.py) and `report.html` (eval/report.py) at the end.

Resuming (`resume=True`) skips the examples already in results.jsonl; a last line left
incomplete by a kill is dropped and that example is answered again. Without `resume`, an
existing non-empty `out_dir` is refused, so no run is overwritten by accident.

Engines: "local" answers in this process, one example at a time; "ray" starts (or joins) a Ray
runtime and shards the examples over `workers` actors, each building its own pipeline from the
same `RagSpec` (or factory), one example in flight per actor.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from smallrag.indexes.location import describe_location, is_database_url
from smallrag.core.checks import check_int, is_number
from smallrag.core.ray_session import import_ray, ray_session
from smallrag.core.errors import SmallragError
from smallrag.eval.datasets import EvalDataset, EvalExample, load_eval_dataset
from smallrag.eval.per import DEFAULT_CPU_WATTS, DEFAULT_GRID_INTENSITY, energy_estimate
from smallrag.eval.records import RESULTS_FILE, ResultsWriter, ask_and_score, check_against, read_results
from smallrag.eval.summary import summarize, write_summary

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
ENGINES = ("local", "ray")
DEFAULT_EXAMPLE_TIMEOUT = 900.0  # seconds one Ray worker may take for one example
_VERSIONED = ("smallrag", "numpy", "ranx", "llama-cpp-python", "transformers", "torch", "sentence-transformers",
              "faiss-cpu", "ray")


@dataclass(frozen=True)
class RagSpec:
    """How each worker builds its pipeline: `RAG.from_index(index, mode=, generator=,
    generator_options=, **options)`; `options` are RAG options (k, max_tokens, temperature,
    verifier, on_unsupported, ...). Plain data, so it pickles to Ray workers."""

    index: str
    generator: str | None = None
    mode: str | None = None
    generator_options: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self):
        from smallrag.pipeline import RAG

        options = {"progress": False, **dict(self.options)}
        return RAG.from_index(self.index, mode=self.mode, generator=self.generator,
                              generator_options=dict(self.generator_options), **options)

    def describe(self) -> dict[str, Any]:
        return {"index": describe_location(self.index) if is_database_url(self.index) else str(Path(self.index).resolve()),
                "generator_spec": self.generator, "mode": self.mode,
                "generator_options": dict(self.generator_options), "options": dict(self.options)}


@dataclass(frozen=True)
class EvalRun:
    """What `run_eval` did: the summary and where the files are."""

    out_dir: Path
    summary: dict[str, Any]
    answered: int  # examples answered by this call
    resumed: int  # examples already in results.jsonl
    report: Path | None


def _name(obj: Any) -> str | None:
    return None if obj is None else str(getattr(obj, "name", type(obj).__name__))


def describe_rag(rag: Any) -> dict[str, Any]:
    """The settings of a built pipeline that change its answers."""
    return {"generator": _name(rag.generator), "retriever": _name(rag.retriever), "reranker": _name(rag.reranker),
            "verifier": _name(rag.verifier), "k": rag.k, "fetch_k": rag.fetch_k, "max_tokens": rag.max_tokens,
            "temperature": rag.temperature, "seed": rag.seed, "context_tokens": rag.context_tokens,
            "on_unsupported": getattr(rag, "on_unsupported", None),
            "escalate_to": _name(getattr(rag, "escalate_to", None)),
            "min_confidence": getattr(rag, "min_confidence", None),
            "compressor": _name(getattr(rag, "compressor", None))}


def library_versions(engine: str) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED:
        if name == "ray" and engine != "ray":
            continue
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run's configuration a resumed run must share (not versions or engine)."""
    return {key: config[key] for key in ("dataset", "pipeline", "filters", "citation_nli") if key in config}


def _prepare_out_dir(out_dir: Path, resume: bool, config: Mapping[str, Any]) -> None:
    run_file = out_dir / RUN_FILE
    if out_dir.exists() and not out_dir.is_dir():
        raise SmallragError(f"--out {out_dir} is a file; pass a folder")
    if not resume or not run_file.is_file():  # a new run: into an empty or new folder only
        if out_dir.is_dir() and any(out_dir.iterdir()):
            if not resume:
                raise SmallragError(f"{out_dir} already holds files; pass --resume to continue that run, "
                                    "or choose an empty or new --out folder")
            raise SmallragError(f"{out_dir} holds files but no {RUN_FILE}: it is not a smallrag eval run, so "
                                "--resume cannot continue it; choose a new --out folder")
        out_dir.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    try:
        previous = json.loads(run_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SmallragError(f"{run_file} is damaged ({exc}); choose a new --out folder") from None
    old, new = _identity(previous), _identity(config)
    if old != new:
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        detail = "; ".join(f"{k}: was {json.dumps(old.get(k))[:200]}, now {json.dumps(new.get(k))[:200]}"
                           for k in changed)
        raise SmallragError(f"--resume: {out_dir} was run with a different configuration ({detail}); "
                            "rerun with the same options, or choose a new --out folder")
    if previous.get("versions") != config.get("versions"):
        logger.warning("resuming %s with different library versions than it started with", out_dir)


def _check_options(engine: str, limit: int | None, k: int | None, workers: int | None) -> None:
    if engine not in ENGINES:
        raise SmallragError(f"unknown engine {engine!r}; use 'local' or 'ray'")
    for name, value in (("limit", limit), ("k", k), ("workers", workers)):
        check_int(name, value, minimum=1, optional=True)


def run_eval(dataset: EvalDataset | str | Path, rag: Any, out_dir: str | Path, *, limit: int | None = None,
             resume: bool = False, engine: str = "local", progress: bool = True, k: int | None = None,
             workers: int | None = None, citation_nli: Any = None, cpu_watts: float = DEFAULT_CPU_WATTS,
             grid_intensity: float = DEFAULT_GRID_INTENSITY, report: bool = True,
             example_timeout: float = DEFAULT_EXAMPLE_TIMEOUT, filters: Mapping[str, Any] | None = None) -> EvalRun:
    """Answer the first `limit` examples of `dataset` with `rag` and write the run to `out_dir`.

    `rag`: a `RagSpec`, a zero-argument callable returning a RAG (both work with either engine),
    or a built RAG (local engine only: Ray workers must build their own). `k` is the cutoff of
    the retrieval metrics (default: the pipeline's k). `citation_nli`: an NLI model
    (smallrag.core.protocols.NLIModel) to judge citations by entailment instead of by gold-answer
    containment. `cpu_watts` and `grid_intensity` feed the energy estimate (eval/per.py).
    `filters` (metadata filters, as for `RAG.ask`) restrict retrieval for every question."""
    _check_options(engine, limit, k, workers)
    energy_estimate(0.0, 1, cpu_watts=cpu_watts, grid_intensity=grid_intensity)  # bad figures fail now
    # Not check_number: that refuses inf, which this has always accepted.
    if not is_number(example_timeout) or not example_timeout > 0:
        raise SmallragError(f"example_timeout must be a positive number of seconds, got {example_timeout!r}")
    if not isinstance(dataset, EvalDataset):
        dataset = load_eval_dataset(dataset)
    out_dir = Path(out_dir)
    examples = dataset.examples[:limit] if limit is not None else dataset.examples
    if not examples:
        raise SmallragError(f"the dataset {dataset.path} holds no examples")

    factory: Callable[[], Any] | None = None
    if isinstance(rag, RagSpec) or (callable(rag) and not hasattr(rag, "ask")):
        factory = rag
    elif not hasattr(rag, "ask"):
        raise SmallragError(f"rag must be a RAG, a RagSpec or a callable returning a RAG, got {type(rag).__name__}")
    elif engine == "ray":
        raise SmallragError("the ray engine needs a RagSpec or a factory (a picklable callable returning a RAG): "
                            "each worker builds its own pipeline")
    if engine == "ray":
        import_ray()

    # Built once here even for Ray: options fail before any worker starts, and the description
    # (which a resumed run must match) is the same for both engines. Models load on first use.
    probe = rag if factory is None else factory()
    pipeline = {**(factory.describe() if isinstance(factory, RagSpec) else {}), **describe_rag(probe)}
    if pipeline.get("mode") is None:  # the default mode: say which one the index gave
        pipeline["mode"] = pipeline.get("retriever")
    local_rag = probe if engine == "local" else None
    metric_k = k if k is not None else probe.k
    config = {"dataset": {key: v for key, v in dataset.describe().items() if key != "examples"},
              "pipeline": pipeline, "filters": filters, "citation_nli": _name(citation_nli), "engine": engine,
              "versions": library_versions(engine)}

    _prepare_out_dir(out_dir, resume, config)
    results_path = out_dir / RESULTS_FILE
    records = read_results(results_path, repair=True) if resume else []
    check_against(records, dataset.examples, results_path)
    done = {r["id"] for r in records}
    pending = [(i, e) for i, e in enumerate(examples) if e.id not in done]
    selected_done = sum(1 for e in examples if e.id in done)
    logger.info("%d examples to answer, %d already in %s", len(pending), selected_done, results_path)

    wanted = {e.id for e in examples}
    from smallrag.core.progress import progress_bar

    bar = progress_bar(len(examples), "evaluating", "q", progress, initial=selected_done)
    try:
        with ResultsWriter(results_path) as writer:
            def keep(record: dict[str, Any]) -> None:
                writer.write(record)
                records.append(record)
                bar.update(1)

            if pending:
                if engine == "local":
                    for position, example in pending:
                        keep(ask_and_score(local_rag, example, position, worker="local", nli=citation_nli,
                                           filters=filters))
                else:
                    _run_ray(factory, pending, keep, workers=workers, nli=citation_nli, timeout=example_timeout,
                             filters=filters)
    except BaseException:
        logger.error("stopped after %d of %d examples; results so far are in %s: rerun with --resume to continue",
                     sum(r["id"] in wanted for r in records), len(examples), results_path)
        raise
    finally:
        bar.close()

    _warn_if_gold_ids_never_match([r for r in records if r["id"] in wanted])
    summary = summarize([r for r in records if r["id"] in wanted], config, k=metric_k, cpu_watts=cpu_watts,
                        grid_intensity=grid_intensity)
    write_summary(summary, out_dir)
    report_path = None
    if report:
        from smallrag.eval.report import write_report

        report_path = write_report(out_dir, summary, [r for r in records if r["id"] in wanted])
    return EvalRun(out_dir, summary, len(pending), selected_done, report_path)


def _warn_if_gold_ids_never_match(records: Sequence[dict[str, Any]]) -> None:
    judged = [r for r in records if r["retrieved"] and any(g > 0 for g in r["relevance"].values())]
    if len(judged) >= 5 and not any(doc in r["relevance"] for r in judged for doc, _score in r["retrieved"]):
        logger.warning("none of the %d answers retrieved a judged document: do the dataset's gold document ids "
                       "match the index's document ids? (for SQuAD or BEIR data, build the index from the "
                       "dataset: `smallrag eval run --build-index`)", len(judged))


# -- Ray --------------------------------------------------------------------------------------

class _Worker:
    """A Ray actor: builds its pipeline once, then answers examples one at a time."""

    def __init__(self, factory: Callable[[], Any], nli: Any, name: str, filters: Any) -> None:
        self.rag = factory()
        self.nli = nli
        self.name = name
        self.filters = filters

    def answer(self, example: dict[str, Any], position: int) -> dict[str, Any]:
        return ask_and_score(self.rag, EvalExample.from_json(example), position, worker=self.name, nli=self.nli,
                             filters=self.filters)


def _share_cpus(factory: Callable[[], Any], workers: int) -> Callable[[], Any]:
    """A llama.cpp RagSpec without n_threads would give every worker all the cores: split them."""
    if not isinstance(factory, RagSpec) or "n_threads" in factory.generator_options:
        return factory
    from dataclasses import replace

    from smallrag.generators.catalogue import parse_generator_spec

    if parse_generator_spec(factory.generator).backend != "llama.cpp":
        return factory
    threads = max(1, (os.cpu_count() or 1) // workers)
    return replace(factory, generator_options={**dict(factory.generator_options), "n_threads": threads})


def _run_ray(factory: Callable[[], Any], pending: Sequence[tuple[int, EvalExample]],
             keep: Callable[[dict[str, Any]], None], *, workers: int | None, nli: Any, timeout: float,
             filters: Any) -> None:
    count = min(workers if workers is not None else (os.cpu_count() or 1), len(pending))
    # Workers import smallrag (and whatever module a factory lives in) from the driver's path.
    with ray_session() as ray:
        _run_actors(ray, factory, pending, keep, count=count, nli=nli, timeout=timeout, filters=filters)


def _run_actors(ray: Any, factory: Callable[[], Any], pending: Sequence[tuple[int, EvalExample]],
                keep: Callable[[dict[str, Any]], None], *, count: int, nli: Any, timeout: float,
                filters: Any) -> None:
    remote = ray.remote(num_cpus=0)(_Worker)  # as many actors as asked, whatever Ray thinks the CPUs are
    worker_factory = _share_cpus(factory, count)
    actors = [remote.remote(worker_factory, nli, f"ray-{i}", filters) for i in range(count)]
    queue = list(pending)
    running: dict[Any, int] = {}
    try:
        def submit(actor_index: int) -> None:
            position, example = queue.pop(0)
            ref = actors[actor_index].answer.remote(example.to_json(), position)
            running[ref] = actor_index

        for i in range(count):
            if queue:
                submit(i)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=timeout)
            if not ready:
                raise SmallragError(f"no Ray worker finished an example within {timeout:.0f} s; results so far are "
                                    "kept, rerun with --resume (and a larger example timeout if answers are slow)")
            ref = ready[0]
            actor_index = running.pop(ref)
            try:
                keep(ray.get(ref))
            except ray.exceptions.RayTaskError as exc:
                raise SmallragError(f"a Ray worker failed: {exc}") from None
            except ray.exceptions.RayActorError as exc:
                raise SmallragError(f"a Ray worker could not start or died: {exc}") from None
            if queue:
                submit(actor_index)
    finally:
        for actor in actors:
            ray.kill(actor)
