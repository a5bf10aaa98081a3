"""What a fit does differently on a Dask worker: its share of threads, and a guard against
a candidate that kills its worker.

Nothing here imports dask: code that never imported ``distributed`` cannot be running in
one of its workers, so outside a cluster :func:`dask_worker_fit` costs one dict look-up.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading

import torch

__all__ = ["dask_worker_fit", "WorkerDiedDuringFit"]

# Scheduler metadata under which each worker thread notes the fit it is running, so that
# the note outlives a worker that dies during the fit.
_IN_PROGRESS = ("skfkd", "fits-in-progress")
_local = threading.local()


class WorkerDiedDuringFit(RuntimeError):
    """A Dask worker died while fitting this estimator, as many times as Dask allows."""


def _current_worker():
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.get_worker()
    except ValueError:  # not in a worker's task thread
        return None


def threads_per_task():
    """Torch threads for one task on this Dask worker.

    Each of a worker's threads runs one task at a time, and Dask gives each of them one
    core: its nanny starts every worker process with ``OMP_NUM_THREADS=1`` for the same
    reason. Torch sizes its thread pool per calling thread, so one thread per fit keeps
    ``workers x threads`` fits on ``workers x threads`` cores. An ``OMP_NUM_THREADS`` set
    for the workers (Dask's ``distributed.nanny.pre-spawn-environ``) is honoured; a worker
    inside the client's process (``processes=False``) shares the client's environment.
    """
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    except ValueError:
        return 1


def _fit_ordinal(task_key):
    """1 for the first fit of this task on this thread, 2 for the next, ...: a fit keeps its
    number when Dask runs the task again, since the fits inside a task run in order."""
    if getattr(_local, "task", None) != task_key:
        _local.task, _local.count = task_key, 0
    _local.count += 1
    return _local.count


def _candidate(estimator):
    """The estimator's parameters that differ from their defaults, as sklearn's repr shows them."""
    defaults = {}
    for cls in reversed(type(estimator).__mro__):  # skorch's defaults, then the subclasses'
        if "__init__" in vars(cls):
            defaults.update(
                (name, parameter.default)
                for name, parameter in inspect.signature(cls.__init__).parameters.items()
                if parameter.default is not inspect.Parameter.empty
            )
    changed = [
        f"{name}={value!r}"
        for name, value in estimator.get_params(deep=False).items()
        if not name.startswith("_") and (name not in defaults or repr(value) != repr(defaults[name]))
    ]
    return f"{type(estimator).__name__}({', '.join(changed)})"


@contextlib.contextmanager
def dask_worker_fit(estimator):
    """Run a fit as a good citizen of the Dask worker it runs on, if any.

    - Torch uses :func:`threads_per_task` threads in this thread, so that a worker's
      concurrent fits do not oversubscribe its cores (a worker in the client's process
      would otherwise give every fit all the machine's cores). The setting stays: it
      belongs to the worker's thread, where the search also predicts to score the fit.
    - The fit is noted on the scheduler while it runs. When a worker dies during it (out
      of memory, a crash in native code), Dask runs the task again elsewhere; once this
      fit has killed as many workers as ``distributed.scheduler.allowed-failures``, the
      next attempt raises :class:`WorkerDiedDuringFit` naming the candidate instead of
      killing one more worker, so a search reports which candidate it was (and, with
      ``error_score=np.nan``, carries on without it).

    Outside a Dask worker it does nothing.
    """
    worker = _current_worker()
    if worker is None:
        yield
        return
    torch.set_num_threads(threads_per_task())
    task = worker.get_current_task()
    if task is None:  # not a task (a worker plugin, say): nothing to guard
        yield
        return
    import dask

    client = worker.client
    note = (str(task), _fit_ordinal(task))
    notes = client.get_metadata(list(_IN_PROGRESS), default=None) or {}
    deaths = sum(1 for value in notes.values() if value is not None and tuple(value) == note)
    allowed = dask.config.get("distributed.scheduler.allowed-failures", 3)
    if deaths and deaths >= allowed:
        raise WorkerDiedDuringFit(
            f"Dask workers died {deaths} time(s) while fitting {_candidate(estimator)}; "
            "not trying it again. Look for the cause (memory: a smaller batch_size or image size) "
            "in the workers' logs."
        )
    slot = [*_IN_PROGRESS, f"{worker.address}#{threading.get_ident()}"]
    client.set_metadata(slot, note)
    try:
        yield
    finally:
        client.set_metadata(slot, None)
