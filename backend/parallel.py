"""Run one job over many chunks on a process pool, reporting progress as chunks finish; or, for numpy work
that releases the GIL, on threads (`map_threads`).

Workers are spawned (never forked: the caller may hold threads and locks), kept for the life of the
process so later calls skip their start-up, and shut down at exit. They die with the process that started
them, even when it is killed (SIGKILL, SIGTERM): none is left running under PID 1. They ignore SIGINT, which
a terminal sends to the whole process group: the parent decides what an interrupt means and ends them.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable, Sequence, TypeVar

from .errors import MouthpieceError

log = logging.getLogger(__name__)

# progress(fraction in [0, 1], short message); may raise to cancel.
Progress = Callable[[float, str], None]
Payload = TypeVar("Payload")
Result = TypeVar("Result")

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 0.25

# (workers, started from the main thread) -> pool
_POOLS: dict[tuple[int, bool], ProcessPoolExecutor] = {}


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def map_threads(work: Callable[[Payload], None], payloads: Sequence[Payload], threads: int) -> None:
    """`work(p)` for every payload, on up to `threads` threads, BLAS held to one thread per call meanwhile
    (several calls each asking BLAS for every core run slower than one); the first error is raised."""
    threads = min(threads, len(payloads))
    if threads < 2:
        for payload in payloads:
            work(payload)
        return
    with _one_blas_thread(), ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(work, payloads):
            pass


def _one_blas_thread():
    """threadpoolctl's limit where it is installed; without it, as in Blender's Python, BLAS is left as it is."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def map_chunks(job: Callable[[Payload], Result], payloads: Sequence[Payload], workers: int,
               progress: Progress | None = None, verb: str = "processed") -> list[Result]:
    """`[job(p) for p in payloads]`, on `workers` processes when there are several chunks.

    `job` must be a module-level function (workers import it by name). If the pool cannot start, e.g. in
    a script without an `if __name__ == "__main__":` guard, the chunks run in this process instead.
    """
    workers = min(workers, len(payloads))
    if workers < 2:
        return _map_here(job, payloads, progress, verb)
    key = (workers, threading.current_thread() is threading.main_thread())
    try:
        return _map_on_pool(_pool(key), job, payloads, progress, verb)
    except BrokenProcessPool as exc:
        log.warning("process pool failed (%s); running the chunks in this process", exc)
        _POOLS.pop(key, None)
        return _map_here(job, payloads, progress, verb)
    except MouthpieceError:  # a chunk's own error: the pool is fine
        raise
    except BaseException:  # an interrupt or a cancel: end the workers now rather than at their chunk's end
        _end_pool(_POOLS.pop(key, None))
        raise


def _map_here(job: Callable, payloads: Sequence, progress: Progress | None, verb: str) -> list:
    results = []
    for index, payload in enumerate(payloads):
        results.append(job(payload))
        _report(progress, index + 1, len(payloads), verb)
    return results


def _map_on_pool(pool: ProcessPoolExecutor, job: Callable, payloads: Sequence, progress: Progress | None,
                 verb: str) -> list:
    futures: list[Future] = [pool.submit(job, payload) for payload in payloads]
    pending = set(futures)
    try:
        while pending:
            _, pending = wait(pending, return_when=FIRST_COMPLETED)
            _report(progress, len(futures) - len(pending), len(futures), verb)
        return [future.result() for future in futures]
    except MouthpieceError:  # one chunk's error: the others are not wanted, and the pool lives on
        for future in futures:
            future.cancel()
        raise


def _report(progress: Progress | None, done: int, total: int, verb: str) -> None:
    if progress is not None:
        progress(done / total, f"{verb} chunk {done}/{total}")


def _pool(key: tuple[int, bool]) -> ProcessPoolExecutor:
    if key not in _POOLS:
        workers, from_main_thread = key
        _POOLS[key] = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=die_with_parent,
                                          initargs=(os.getpid(), from_main_thread))
    return _POOLS[key]


def die_with_parent(parent_pid: int, from_main_thread: bool = True) -> None:
    """Pool worker initializer: end this worker as soon as `parent_pid` is gone, however it went.

    On Linux the kernel sends SIGKILL when the parent dies. It sends it when the parent's spawning *thread*
    ends, so only pools started from the main thread ask for it; a watchdog thread that sees the worker
    re-parented covers the other pools and the other systems.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if from_main_thread:
        _ask_kernel_for_kill_on_parent_death()
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def _ask_kernel_for_kill_on_parent_death() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as exc:
        log.debug("no prctl: %s", exc)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _end_pool(pool: ProcessPoolExecutor | None) -> None:
    """Stop a pool at once: its workers are killed mid-chunk (they hold nothing worth keeping)."""
    if pool is None:
        return
    # no public way to do this before Python 3.14's terminate_workers()
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.kill()
    call_queue = getattr(pool, "_call_queue", None)
    if call_queue is not None:  # chunks still in its pipe have no reader now: exit without flushing them
        call_queue.cancel_join_thread()
    # Futures are left for the pool's manager thread to fail as broken: cancelling them as well makes that
    # thread die on InvalidStateError (Python 3.11), printing a traceback after the CLI's last line.
    pool.shutdown(wait=False, cancel_futures=False)


@atexit.register
def close_pools() -> None:
    for pool in _POOLS.values():
        pool.shutdown(wait=False, cancel_futures=True)
    _POOLS.clear()
