"""Scaling out: a grid search on a local Dask cluster, data-parallel training with Accelerate.

1. ``GridSearchCV`` of 8 candidates x 3 grouped folds over ``FacialKeypointRegressor`` on the
   YouTube training identities (the split of ``benchmarks/accuracy.py``), a few epochs each:
   ``n_jobs=1`` in this process (torch on every core, the default; and on one thread, as on
   each worker) against joblib's dask backend on a ``LocalCluster`` of 2 workers x 1
   thread. Reports the wall times and their ratios, whether the best parameters and every
   split's score agree, and what reached the workers: the arrays joblib scattered (calls,
   bytes) and the copies the workers fetched from each other, against sending ``X`` and
   ``y`` with every task.
2. ``AcceleratedFacialKeypointRegressor`` on the same training identities: training
   throughput (images/s over the epochs after the first) in 1 process against 2 CPU
   processes (``accelerate launch --multi_gpu --num_processes 2``, gloo, one torch thread
   each), with 64 faces a process and step and with 64 a step in all
   (``split_batches=True``), and the NME on the held-out identities after the same
   number of epochs. On a CUDA machine with several GPUs: 1 GPU against all of them.

Usage::

    python benchmarks/scale.py            # every training face
    python benchmarks/scale.py --quick    # a third of the faces (a sixth for the search), fewer epochs

Writes ``benchmarks/results/scale[_quick].md``. Needs the real photos (``SKFKD_DATA`` or
``--youtube``) and the ``distributed`` extra.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import ParameterGrid

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment_lines, markdown_table  # noqa: E402
from accuracy import youtube_split  # noqa: E402

from skfkd import FacialKeypointRegressor  # noqa: E402
from skfkd.augmentation import KeypointAugmenter  # noqa: E402
from skfkd.datasets import get_data_home  # noqa: E402
from skfkd.metrics import nme_scorer, normalized_mean_error  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
GRID = {"lr": [1e-3, 3e-3], "autoencoder_weight": [0.0, 0.01], "augmentation__rotation": [0.0, 15.0]}


def _megabytes(n_bytes):
    return f"{n_bytes / 1e6:,.1f} MB"


def _timed_search(search, X, y, groups):
    tic = time.perf_counter()
    fitted = search.fit(X, y, groups=groups)
    return fitted, time.perf_counter() - tic


def grid_search(train, epochs):
    """The same search with n_jobs=1 and on a 2 x 1 LocalCluster: rows, agreement, transfers."""
    import distributed
    import joblib
    from dask.sizeof import sizeof
    from sklearn.model_selection import GridSearchCV, GroupKFold

    X, y, groups = train

    def search():
        model = FacialKeypointRegressor(
            # augmentation="auto"'s geometry, with the rotation tuned
            augmentation=KeypointAugmenter(rotation=0.0, flip=0.0, brightness=0.0, contrast=0.0, noise=0.0),
            max_epochs=epochs,
            train_split=None,
            random_state=0,
        )
        return GridSearchCV(
            model, GRID, cv=GroupKFold(3), scoring=nme_scorer, refit=False, error_score="raise"
        )

    threads = torch.get_num_threads()
    local, local_seconds = _timed_search(search(), X, y, groups)
    print(f"grid search, n_jobs=1, {threads} torch threads: {local_seconds:.0f} s", flush=True)
    torch.set_num_threads(1)
    try:
        single, single_seconds = _timed_search(search(), X, y, groups)
    finally:
        torch.set_num_threads(threads)
    print(f"grid search, n_jobs=1, 1 torch thread: {single_seconds:.0f} s", flush=True)

    tic = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    client = distributed.Client(cluster)
    client.wait_for_workers(2)
    start_seconds = time.perf_counter() - tic
    scattered = []
    scatter = client.scatter

    def counting_scatter(data, *args, **kwargs):
        scattered.append(sizeof(data))
        return scatter(data, *args, **kwargs)

    client.scatter = counting_scatter
    try:
        with joblib.parallel_backend("dask"):
            on_dask, dask_seconds = _timed_search(search(), X, y, groups)
        fetched = client.run(
            lambda dask_worker: sum(log["total"] for log in dask_worker.transfer_incoming_log)
        )
    finally:
        client.close()
        cluster.close()
    print(
        f"grid search, LocalCluster 2 x 1: {dask_seconds:.0f} s (+ {start_seconds:.0f} s to start it)",
        flush=True,
    )

    def best(cv):
        return cv.cv_results_["params"][int(np.argmin(cv.cv_results_["rank_test_score"]))]

    def scores(cv):
        return np.array([cv.cv_results_[f"split{i}_test_score"] for i in range(3)])

    rows = [
        (
            f"n_jobs=1, torch on {threads} threads (the default)",
            f"{local_seconds:.0f}",
            "1.00",
            f"{-local.best_score_:.2%}",
            best(local),
        ),
        (
            "n_jobs=1, torch on 1 thread",
            f"{single_seconds:.0f}",
            f"{local_seconds / single_seconds:.2f}",
            f"{-single.best_score_:.2%}",
            best(single),
        ),
        (
            "LocalCluster, 2 workers x 1 thread",
            f"{dask_seconds:.0f} (+ {start_seconds:.0f} to start)",
            f"{local_seconds / dask_seconds:.2f}",
            f"{-on_dask.best_score_:.2%}",
            best(on_dask),
        ),
    ]
    n_scores = scores(on_dask).size
    agreement = [
        f"- the cluster against n_jobs=1 with the workers' single torch thread: best parameters "
        f"{'the same' if best(on_dask) == best(single) else 'DIFFERENT'}, the {n_scores} split scores differ "
        f"by {np.abs(scores(on_dask) - scores(single)).max():.1e} at most",
        f"- against n_jobs=1 with {threads} torch threads: best parameters "
        f"{'the same' if best(on_dask) == best(local) else 'different'}, split scores differ by "
        f"{np.abs(scores(on_dask) - scores(local)).max():.1e} at most (another thread count sums in another "
        "order, and a few epochs of training amplify the last-digit differences)",
    ]
    n_tasks = len(on_dask.cv_results_["params"]) * 3
    array_bytes = X.nbytes + y.nbytes
    moved = sum(scattered) + sum(fetched.values())
    transfers = [
        f"- training arrays: X {_megabytes(X.nbytes)}, y {_megabytes(y.nbytes)}; {n_tasks} fits",
        f"- joblib scattered {len(scattered)} objects ({_megabytes(sum(scattered))}: X, y and the fold indices, "
        f"once each); the workers then fetched {_megabytes(sum(fetched.values()))} from each other",
        f"- sending X and y with every fit instead: {_megabytes(n_tasks * array_bytes)}, "
        f"{n_tasks * array_bytes / max(moved, 1):.0f} times what was sent",
    ]
    return rows, agreement, transfers


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accelerate_job(out, data, epochs, split_batches):
    """Run in every launched process: train, and let the main process write the figures."""
    from accelerate import Accelerator, DataLoaderConfiguration

    from skfkd.neural import AcceleratedFacialKeypointRegressor

    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        dataloader_config=DataLoaderConfiguration(split_batches=split_batches),
    )
    with np.load(data) as arrays:
        X, y, X_test, y_test = (arrays[name] for name in ("X", "y", "X_test", "y_test"))
    model = AcceleratedFacialKeypointRegressor(
        accelerator=accelerator, max_epochs=epochs, train_split=None, random_state=0
    ).fit(X, y)
    if accelerator.is_main_process:
        durations = model.history_[:, "dur"][1:]
        figures = {
            "processes": accelerator.num_processes,
            "device": model.device_,
            "torch_threads": torch.get_num_threads(),
            "images_per_second": len(X) / statistics.median(durations),
            "nme": float(normalized_mean_error(y_test, model.predict(X_test))),
            "steps_per_epoch": model.history_[-1, "train_batch_count"],
        }
        Path(out).write_text(json.dumps(figures))
    accelerator.wait_for_everyone()


def data_parallel(train, test, epochs):
    """``(name, processes, steps/epoch, images/s, ratio, NME)`` rows: 1 process against several."""
    n_gpus = torch.cuda.device_count()
    many = n_gpus if n_gpus > 1 else (1 if n_gpus == 1 else 2)
    runs = [("1 process", 1, False)]
    if many > 1:
        runs += [
            (f"{many} processes, 64 faces a process and step", many, False),
            (f"{many} processes, 64 faces a step in all (split_batches)", many, True),
        ]
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "faces.npz"
        np.savez(data, X=train[0], y=train[1], X_test=test[0], y_test=test[1])  # read by every process
        for name, n_processes, split_batches in runs:
            out = Path(folder) / "figures.json"
            job = [__file__, "--accelerate-job", str(out), "--data", str(data), "--epochs", str(epochs)]
            job += ["--split-batches"] * split_batches
            if n_processes == 1:
                command = [sys.executable, *job]
            else:
                command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
                command += [
                    "--num_processes",
                    str(n_processes),
                    "--num_machines",
                    "1",
                    "--mixed_precision",
                    "no",
                ]
                command += ["--dynamo_backend", "no", "--main_process_port", str(_free_port()), *job]
            # A fresh environment's thread settings: starting the LocalCluster set
            # OMP_NUM_THREADS=1 in this process (Dask's nanny does), and torchrun sets
            # it to 1 in each of its processes itself.
            env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
            subprocess.run(command, check=True, timeout=3600, env=env)
            figures = json.loads(out.read_text())
            reference = reference or figures["images_per_second"]
            rows.append(
                (
                    name,
                    f"{figures['device']}, {figures['torch_threads']} torch thread(s) each",
                    figures["steps_per_epoch"],
                    f"{figures['images_per_second']:,.0f}",
                    f"{figures['images_per_second'] / reference:.2f}",
                    f"{figures['nme']:.2%}",
                )
            )
            print(
                f"{name}: {figures['images_per_second']:,.0f} images/s, NME {figures['nme']:.2%}", flush=True
            )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a third of the faces, fewer epochs")
    parser.add_argument("--youtube", default=None, help="youtube_faces_68 folder (default: SKFKD_DATA)")
    parser.add_argument("--accelerate-job", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--split-batches", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    youtube = Path(args.youtube) if args.youtube else get_data_home() / "youtube_faces_68"
    if args.accelerate_job:
        return accelerate_job(args.accelerate_job, args.data, args.epochs, args.split_batches)
    if not youtube.is_dir():
        sys.exit(f"no YouTube faces at {youtube}; set SKFKD_DATA or --youtube")
    grid_epochs, train_epochs = (2, 3) if args.quick else (3, 6)

    train, test = youtube_split(youtube, args.quick)
    grid_train = tuple(array[::2] for array in train) if args.quick else train
    grid_rows, agreement, transfers = grid_search(grid_train, grid_epochs)
    parallel_rows = data_parallel(train, test, train_epochs)

    n_train = len(train[0])
    lines = [
        "# Scaling out: Dask model selection, Accelerate data parallelism",
        "",
        *environment_lines(),
        "- "
        + ", ".join(f"{name} {version(name)}" for name in ("dask", "distributed", "accelerate", "joblib")),
        "",
        f"## Grid search: {len(ParameterGrid(GRID))} candidates x 3 grouped folds, {grid_epochs} epochs, "
        f"{len(grid_train[0])} YouTube training faces",
        "",
        f"`GridSearchCV(FacialKeypointRegressor(max_epochs={grid_epochs}, train_split=None, random_state=0), "
        f"{GRID}, cv=GroupKFold(3), scoring=nme_scorer)`, unchanged inside "
        '`joblib.parallel_backend("dask")` for the cluster.',
        "",
        *markdown_table(["run", "wall time (s)", "speed-up", "best NME", "best parameters"], grid_rows),
        "",
        *agreement,
        *transfers,
        "",
        f"## Data-parallel training: {n_train} faces, {train_epochs} epochs, held-out identities",
        "",
        "`AcceleratedFacialKeypointRegressor(max_epochs=..., train_split=None, random_state=0)`; images/s over the "
        "epochs after the first; speed-up against 1 process.",
        "",
        *markdown_table(
            ["run", "device", "steps/epoch", "images/s", "speed-up", "held-out NME"], parallel_rows
        ),
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scale{'_quick' if args.quick else ''}.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
