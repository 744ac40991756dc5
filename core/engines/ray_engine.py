"""Per-creative analysis on Ray Data: `map_batches` over actors that load the models once.

The driver (the ingest process) builds a dataset of small task rows, Ray streams them through a
pool of `_Analyser` actors (one per CPU by default, each `compute.init_worker` once), and the
results stream back, in task order, to `core.ingest`'s single writer. Nothing here touches DuckDB,
so idempotence and resume are the writer's as with the local engine: a creative is in the library
once its transaction committed, and a killed run recomputes only the rest.

Without an address a small local Ray starts on this machine (what the tests use); with one, the
workers must see the library folder at the same path (a shared volume) and import this project.
Ray is optional and imported only here: `pip install -r requirements-ray.txt`.
"""
from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Iterator

from ..compute import CreativeResult, CreativeTask
from ..limits import DEFAULT_LIMITS, IngestLimits
from . import EngineUnavailable

ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "The Ray engine needs Ray, which is not installed: run `pip install -r requirements-ray.txt` (or use --engine local)."
OBJECT_STORE_BYTES = 128 * 1024 ** 2   # results are ~40 kB each (vector + thumbnail): a small store streams them
MAX_BLOCKS = 4096                      # one creative per block up to here, so a slow video holds up nobody


def require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise EngineUnavailable(INSTALL_HINT) from e
    return ray


class _Deadline(BaseException):
    """Raised in the analysing thread when a creative runs past limits.task_seconds (BaseException:
    analyze_creative turns every Exception into an 'analysis_failed' result)."""


class _Analyser:
    """A Ray actor: the models load once, on its first batch (no constructor arguments to keep in the store).

    It gets the local pool's limits (core.pool): its address space may grow by `worker_memory_mb`
    past what it held before loading the models (a Ray worker reserves a few GB of address space for
    its own threads before our code runs, so the pool's absolute cap would stop it at once), and a
    MemoryError is `too_much_memory` for that file; a creative that runs past `task_seconds` is
    interrupted (`analyse_within_limits`) and becomes `analysis_timeout` (a hang inside native code
    that never returns to Python is not interrupted, unlike the local pool, which kills the process).
    """

    def __init__(self):
        self.loaded = False
        self.memory_mb = 0

    def __call__(self, batch: dict, limits: IngestLimits) -> dict:
        from ..compute import init_worker
        from ..pool import _limit_memory, vm_size_mb

        out = []
        for sha, path, kind, name, model in zip(batch["sha256"], batch["path"], batch["kind"], batch["name"], batch["visual_model"]):
            if not self.loaded:
                if limits.worker_memory_mb > 0:
                    self.memory_mb = limits.worker_memory_mb
                    _limit_memory(int(vm_size_mb()) + limits.worker_memory_mb)
                init_worker(model or None, threads=1)
                self.loaded = True
            task = CreativeTask(str(sha), str(path), str(kind), str(name), model or None)
            out.append(pickle.dumps(analyse_within_limits(task, limits, self.memory_mb), protocol=pickle.HIGHEST_PROTOCOL))
        return {"sha256": batch["sha256"], "result": out}


def analyse_within_limits(task: CreativeTask, limits: IngestLimits, memory_mb: int) -> CreativeResult:
    """analyze_creative with the pool's memory verdict, interrupted past limits.task_seconds.

    Ray runs an actor's calls on a thread of its own, where signals cannot reach, so a timer thread
    raises `_Deadline` in the analysing thread (PyThreadState_SetAsyncExc: it lands at the next Python
    bytecode, so a call stuck in native code is interrupted when it returns)."""
    import ctypes
    import threading

    from ..compute import analyze_creative
    from ..pool import memory_verdict, timeout_result

    if limits.task_seconds <= 0:
        return memory_verdict(task, analyze_creative(task, limits), memory_mb)
    target, lock, state = threading.get_ident(), threading.Lock(), {"done": False}

    def expire():
        with lock:
            if not state["done"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(_Deadline))

    timer = threading.Timer(float(limits.task_seconds), expire)
    timer.daemon = True
    timer.start()
    try:
        try:
            result = memory_verdict(task, analyze_creative(task, limits), memory_mb)
        finally:
            with lock:
                state["done"] = True   # no deadline lands after this line
    except _Deadline:
        return timeout_result(task, limits.task_seconds)
    finally:
        timer.cancel()
    return result


def run_tasks(tasks: list[CreativeTask], workers: int = 2, limits: IngestLimits = DEFAULT_LIMITS,
              address: str | None = None) -> Iterator[CreativeResult]:
    """Yield one CreativeResult per task, in task order, computed by `workers` Ray actors."""
    if not tasks:
        return
    ray = require_ray()
    started = _connect(ray, address, workers)
    try:
        yield from _stream(ray, tasks, max(1, workers), limits)
    finally:
        if started:
            ray.shutdown()


def _connect(ray, address: str | None, workers: int) -> bool:
    """Join the given cluster, or start a small local one; True when we started it (and so stop it)."""
    if ray.is_initialized():
        return False
    env = {k: os.environ[k] for k in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM", "CTE_DATA_DIR") if k in os.environ}
    env["OMP_NUM_THREADS"] = "1"
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    if address:
        # workers elsewhere import this project from a copy of its code (not the libraries' data)
        runtime_env = {"env_vars": env, "working_dir": str(ROOT),
                       "excludes": ["data/", "bench/out/", ".git/", "tests/", "*.duckdb", "*.faiss"]}
        ray.init(address=address, runtime_env=runtime_env, **quiet)
    else:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        # Ray renices its workers by +15 so that its own daemons stay responsive; on a machine shared with
        # other work that starves the analysis (nice 19 on this 2-core box: 2x the local engine's time at
        # load 8-15), while the local pool's workers run at the ingest's own priority, as these now do
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(num_cpus=max(1, workers), object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False,
                 runtime_env={"env_vars": env}, **quiet)
    return True


def _stream(ray, tasks: list[CreativeTask], workers: int, limits: IngestLimits) -> Iterator[CreativeResult]:
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True   # task order → the same creative ids as the local engine
    ctx.enable_progress_bars = False              # the ingest's own progress bar counts results
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    rows = [{"sha256": t.sha256, "path": t.path, "kind": t.kind, "name": t.name, "visual_model": t.visual_model or ""}
            for t in tasks]
    ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), MAX_BLOCKS))
    # Ray Data retries a task whose actor died forever by default: a file that kills its worker (a decoder
    # crash, memory) would loop; two retries, then the rest go one by one (`_one_by_one`)
    ds = ds.map_batches(_Analyser, batch_size=1, batch_format="numpy", num_cpus=1,
                        compute=ray.data.ActorPoolStrategy(size=workers), max_task_retries=2,
                        fn_kwargs={"limits": limits})
    done: set[str] = set()
    try:
        for row in ds.iter_rows():
            result = pickle.loads(row["result"])
            done.add(result.sha256)
            yield result
    except ray.exceptions.RayError:
        yield from _one_by_one(ray, [t for t in tasks if t.sha256 not in done], limits)


def _one_by_one(ray, tasks: list[CreativeTask], limits: IngestLimits) -> Iterator[CreativeResult]:
    """Each creative in its own task, never retried: the one that kills its worker becomes an error."""
    analyse = ray.remote(num_cpus=1, max_retries=0)(_analyse_once)
    pending = {analyse.remote(t, limits): t for t in tasks}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        task = pending.pop(ready[0])
        try:
            yield ray.get(ready[0])
        except ray.exceptions.RayError as e:
            yield CreativeResult(task.sha256, ok=False, error_code="analysis_crashed",
                                 error_message=f"'{task.name}' stopped the program that analyses it ({type(e).__name__}); "
                                               "check the file opens in an image or video player and upload it again.")


def _analyse_once(task: CreativeTask, limits: IngestLimits) -> CreativeResult:
    from ..compute import _MODELS, init_worker

    if not _MODELS:   # Ray reuses worker processes: the models load once per process
        init_worker(task.visual_model, threads=1)
    return analyse_within_limits(task, limits, 0)
