"""Run one job over many chunks on a process pool, reporting progress as chunks finish.

Workers are spawned (never forked: the caller may hold threads and locks), kept for the life of the
process so later calls skip their start-up, and shut down at exit.
"""
from __future__ import annotations

import atexit
import logging
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable, Sequence, TypeVar

log = logging.getLogger(__name__)

# progress(fraction in [0, 1], short message); may raise to cancel.
Progress = Callable[[float, str], None]
Payload = TypeVar("Payload")
Result = TypeVar("Result")

_POOLS: dict[int, ProcessPoolExecutor] = {}


def map_chunks(job: Callable[[Payload], Result], payloads: Sequence[Payload], workers: int,
               progress: Progress | None = None, verb: str = "processed") -> list[Result]:
    """`[job(p) for p in payloads]`, on `workers` processes when there are several chunks.

    `job` must be a module-level function (workers import it by name). If the pool cannot start, e.g. in
    a script without an `if __name__ == "__main__":` guard, the chunks run in this process instead.
    """
    workers = min(workers, len(payloads))
    if workers < 2:
        return _map_here(job, payloads, progress, verb)
    try:
        return _map_on_pool(_pool(workers), job, payloads, progress, verb)
    except BrokenProcessPool as exc:
        log.warning("process pool failed (%s); running the chunks in this process", exc)
        _POOLS.pop(workers, None)
        return _map_here(job, payloads, progress, verb)


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
    finally:
        for future in futures:
            future.cancel()


def _report(progress: Progress | None, done: int, total: int, verb: str) -> None:
    if progress is not None:
        progress(done / total, f"{verb} chunk {done}/{total}")


def _pool(workers: int) -> ProcessPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    return _POOLS[workers]


@atexit.register
def close_pools() -> None:
    for pool in _POOLS.values():
        pool.shutdown(wait=False, cancel_futures=True)
    _POOLS.clear()
