"""Analysis worker processes: a dead, stuck or memory-hungry worker costs one file, never the ingest.

Every creative is analysed in a child process (never in the app's server process). Each worker
runs one task at a time over its own pipe, so the parent always knows which file a worker is on:

* a worker that dies (killed by the kernel, a crash in native code) → that file gets
  ``worker_crashed``, a fresh worker takes its place and the rest go on;
* a file that runs past ``limits.task_seconds`` → its worker is killed, the file gets
  ``analysis_timeout``;
* each worker's address space is capped at ``limits.worker_memory_mb`` (RLIMIT_AS), so an
  allocation past it fails inside the worker as MemoryError → ``too_much_memory`` for that file.
  A worker's address space creeps up with every file it reads (allocator arenas, onnxruntime's
  buffers: 0.96 GB after loading the models, 1.74 GB after the 461 real ads), so a worker past
  RECYCLE_SHARE of the cap is replaced between files, and a file that ran out of memory on a
  worker that had already read others gets one more try on a fresh worker: only a fresh worker's
  verdict is the file's own.

Workers stay warm between ingests of one process (the models load once), keyed by model,
thread count and memory cap, for IDLE_SECONDS; ``shutdown_workers`` (also run at exit) stops them.
"""
from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import threading
import time
from multiprocessing.connection import wait
from typing import Iterator

from .compute import CreativeResult, CreativeTask
from .limits import IngestLimits

_START_TIMEOUT_S = 300.0      # model loading on a busy 2-core machine
RECYCLE_SHARE = 0.75         # of worker_memory_mb: past it a worker is replaced between files
IDLE_SECONDS = 300.0          # a warm worker nobody used for this long is stopped
_OOM_MARKERS = ("MemoryError", "can't allocate memory", "bad_alloc", "Cannot allocate memory", "out of memory")
_IDLE: dict[tuple, list["_Worker"]] = {}
_IDLE_LOCK = threading.Lock()


class WorkerStartError(RuntimeError):
    """The analysis workers could not start at all (the models failed to load)."""


def _limit_memory(memory_mb: int) -> None:
    import resource

    if memory_mb > 0:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:  # glibc reserves 64 MB of address space per thread arena; two are plenty for one busy thread
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def _peak_rss_mb() -> float:
    """This worker's own peak resident memory. VmHWM belongs to the process's current memory map, while
    ru_maxrss also keeps the high-water mark from before exec, i.e. the parent's size when it spawned us."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _worker_main(conn, visual_model: str | None, threads: int, memory_mb: int) -> None:
    """One worker: load the models, then analyse one task per message until told to stop."""
    from .compute import analyze_creative, init_worker

    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        _limit_memory(memory_mb)
        init_worker(visual_model, threads=threads)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which decides
        conn.send(("start_failed", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", _peak_rss_mb()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if msg is None:
            return
        task, limits = msg
        conn.send(("result", memory_verdict(task, analyze_creative(task, limits), memory_mb), _peak_rss_mb(), vm_size_mb()))


def memory_verdict(task: CreativeTask, result: CreativeResult, memory_mb: int) -> CreativeResult:
    """A MemoryError under the cap becomes `too_much_memory` for that file (this pool and the Ray actors)."""
    if not result.ok and result.error_code == "analysis_failed" and any(m in result.error_message for m in _OOM_MARKERS):
        return CreativeResult(task.sha256, ok=False, error_code="too_much_memory",
                              error_message=f"'{task.name}' needs more than the {memory_mb:,} MB one analysis may use, "
                                            f"so it was left out; resize it (or export it as a smaller JPG) and upload again.")
    return result


def timeout_result(task: CreativeTask, seconds: float) -> CreativeResult:
    return CreativeResult(task.sha256, ok=False, error_code="analysis_timeout",
                          error_message=f"'{task.name}' took over {seconds:,.0f} s to analyse, so it was given up on; "
                                        f"check it opens quickly in a viewer, or export it smaller.")


def vm_size_mb() -> float:
    """This process's current address space (VmSize), 0 when unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _Worker:
    def __init__(self, key: tuple):
        ctx = mp.get_context("spawn")  # fork after torch/duckdb threads exist is unsafe
        self.key = key
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, *key), daemon=True, name="cte-analysis")
        self.proc.start()
        child.close()
        self.ready = False
        self.since = time.monotonic()    # spawn time until ready, then the current task's start
        self.index: int | None = None   # the task it is on
        self.last_index: int | None = None
        self.peak_mb = 0.0
        self.vm_mb = 0.0                 # address space after its last file
        self.files = 0                   # files it has finished

    def bloated(self, memory_mb: int) -> bool:
        return memory_mb > 0 and self.vm_mb > RECYCLE_SHARE * memory_mb

    def send(self, index: int, task: CreativeTask, limits: IngestLimits) -> None:
        self.index, self.since = index, time.monotonic()
        self.conn.send((task, limits))

    def alive(self) -> bool:
        return self.proc.is_alive()

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                self.proc.kill()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()


class AnalysisPool:
    """Runs CreativeTasks on `workers` processes and yields results in task order."""

    def __init__(self, workers: int, visual_model: str | None, limits: IngestLimits, threads: int = 1):
        self.n = max(1, workers)
        self.limits = limits
        self.key = (visual_model, threads, limits.worker_memory_mb)
        self.peak_rss_mb = 0.0    # the highest resident memory any worker reached
        self.restarts = 0         # workers replaced after a crash or a timeout
        self.recycled = 0         # workers replaced because their address space crept up
        self.retried = 0          # files that ran out of memory on a used worker and went again

    def _take_workers(self) -> list[_Worker]:
        with _IDLE_LOCK:
            idle = _IDLE.get(self.key, [])
            got = [w for w in idle[: self.n] if w.alive()]
            del idle[: self.n]
        return got + [_Worker(self.key) for _ in range(self.n - len(got))]

    def _give_back(self, workers: list[_Worker]) -> None:
        now = time.monotonic()
        with _IDLE_LOCK:
            for w in workers:
                if w.alive() and w.ready and w.index is None and not w.bloated(self.limits.worker_memory_mb):
                    w.since = now
                    _IDLE.setdefault(self.key, []).append(w)
        for w in workers:
            if w.index is not None or not w.ready:
                w.stop(kill=True)
            elif w.bloated(self.limits.worker_memory_mb):
                w.stop()
        _schedule_idle_stop()

    def run(self, tasks: list[CreativeTask]) -> Iterator[CreativeResult]:
        if not tasks:
            return
        workers = self._take_workers()
        todo = list(range(len(tasks)))[::-1]     # a stack: pop() gives task order
        done: dict[int, CreativeResult] = {}
        next_out = 0
        start_failures = 0
        retried: set[int] = set()
        try:
            while next_out < len(tasks):
                for w in workers:
                    if w.ready and w.index is None and todo:
                        i = todo.pop()
                        w.send(i, tasks[i], self.limits)
                ready = wait([w.conn for w in workers] + [w.proc.sentinel for w in workers], timeout=1.0)
                for w in list(workers):
                    if w.conn in ready or w.proc.sentinel in ready:
                        outcome = self._receive(w, tasks, done)
                        if outcome == "start_failed":
                            start_failures += 1
                            if start_failures >= 2 or not any(x.ready for x in workers):
                                raise WorkerStartError(self._start_message)
                        if outcome in ("died", "start_failed"):
                            workers[workers.index(w)] = _Worker(self.key)
                            self.restarts += 1
                        elif outcome == "result":
                            self._after_result(w, workers, todo, done, retried)
                    elif not w.ready and time.monotonic() - w.since > _START_TIMEOUT_S:
                        raise WorkerStartError(f"the analysis workers did not start within {_START_TIMEOUT_S:.0f} s; "
                                               f"close other programs and try again.")
                    elif w.index is not None and time.monotonic() - w.since > self.limits.task_seconds:
                        done[w.index] = timeout_result(tasks[w.index], self.limits.task_seconds)
                        w.index = None
                        w.stop(kill=True)
                        workers[workers.index(w)] = _Worker(self.key)
                        self.restarts += 1
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
        finally:
            self._give_back(workers)

    def _after_result(self, w: _Worker, workers: list[_Worker], todo: list[int], done: dict, retried: set) -> None:
        """Replace a worker whose address space crept up; give a file that ran out of memory on a
        used worker one more try on a fresh one."""
        i = w.last_index
        again = (done[i].error_code == "too_much_memory" and w.files > 1 and i not in retried)
        if again:
            del done[i]
            retried.add(i)
            todo.append(i)       # the stack's top: it goes next
            self.retried += 1
        if again or w.bloated(self.limits.worker_memory_mb):
            w.stop()
            workers[workers.index(w)] = _Worker(self.key)
            self.recycled += 1

    _start_message = "the analysis workers could not load the models; see the error above and check the installation."

    def _receive(self, w: _Worker, tasks: list[CreativeTask], done: dict) -> str:
        try:
            if w.conn.poll():
                msg = w.conn.recv()
                if msg[0] == "ready":
                    w.ready, w.peak_mb = True, msg[1]
                    self.peak_rss_mb = max(self.peak_rss_mb, msg[1])
                    return "ready"
                if msg[0] == "start_failed":
                    self._start_message = f"the analysis workers could not load the models ({msg[1]}); check the installation."
                    w.stop(kill=True)
                    return "start_failed"
                _, result, peak, w.vm_mb = msg
                done[w.index] = result
                w.last_index, w.index = w.index, None
                w.files += 1
                self.peak_rss_mb = max(self.peak_rss_mb, peak)
                return "result"
        except (EOFError, OSError):
            pass
        if w.alive():
            return "busy"
        # the process is gone: whatever it was on made it die
        code = w.proc.exitcode
        if w.index is not None:
            how = f"was stopped by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            _fail_task(w, tasks, done, "worker_crashed",
                       f"made the analysis process stop (it {how}, e.g. out of memory); the file was left out: "
                       f"check it opens in an image viewer, or export it again.")
            return "died"
        w.stop(kill=True)
        return "start_failed" if not w.ready else "died"


def _fail_task(w: _Worker, tasks: list[CreativeTask], done: dict, code: str, why: str) -> None:
    """The file the worker is on failed (`why` follows its name); the worker is stopped."""
    task = tasks[w.index]
    done[w.index] = CreativeResult(task.sha256, ok=False, error_code=code, error_message=f"'{task.name}' {why}")
    w.index = None
    w.stop(kill=True)


def _stop_idle(older_than_s: float) -> None:
    now = time.monotonic()
    with _IDLE_LOCK:
        old = [w for ws in _IDLE.values() for w in ws if now - w.since >= older_than_s]
        for key in list(_IDLE):
            _IDLE[key] = [w for w in _IDLE[key] if w not in old]
    for w in old:
        w.stop()


def _schedule_idle_stop() -> None:
    """Warm workers hold ~0.5 GB each: in a long-running app they go after IDLE_SECONDS unused."""
    timer = threading.Timer(IDLE_SECONDS + 1, _stop_idle, args=(IDLE_SECONDS,))
    timer.daemon = True
    timer.start()


def shutdown_workers() -> None:
    """Stop every idle warm worker (at exit, or to free their memory)."""
    with _IDLE_LOCK:
        workers = [w for ws in _IDLE.values() for w in ws]
        _IDLE.clear()
    for w in workers:
        w.stop()


atexit.register(shutdown_workers)
