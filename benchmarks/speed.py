"""Training and inference speed of the default regressor beside PCA + ridge, on 96x96 faces.

For each model: training throughput (images per second; for the CNN with and without
augmentation, measured over the epochs after the first), batched inference throughput,
and single-face latency (median and 95th percentile over repeated one-face calls). On a
CUDA machine the regressor trains there with bfloat16 autocast and the data resident on
the GPU. Ratios compare each figure with PCA + ridge in the same run.

Usage::

    python benchmarks/speed.py            # ~10 minutes on a 2-core CPU
    python benchmarks/speed.py --quick    # under 2 minutes

Writes ``benchmarks/results/speed[_cuda][_quick].md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment_lines, markdown_table  # noqa: E402

from skfkd import FacialKeypointRegressor  # noqa: E402
from skfkd.augmentation import KeypointAugmenter  # noqa: E402
from skfkd.baselines import make_pca_ridge  # noqa: E402
from skfkd.datasets import make_faces  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def training_throughput(model, X, y):
    """Images per second over the epochs after the first (which pays one-off set-up)."""
    tic = time.perf_counter()
    model.fit(X, y)
    total = time.perf_counter() - tic
    durations = model.history_[:, "dur"][1:] if hasattr(model, "history_") else [total]
    return len(X) / statistics.median(durations), total


def inference(model, X, n_calls):
    model.predict(X[:256])  # warm-up
    tic = time.perf_counter()
    model.predict(X)
    batched = len(X) / (time.perf_counter() - tic)
    latencies = []
    for i in range(n_calls):
        face = X[i % len(X)][None]
        tic = time.perf_counter()
        model.predict(face)
        latencies.append((time.perf_counter() - tic) * 1000)
    return batched, statistics.median(latencies), float(np.percentile(latencies, 95))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and epochs: under 2 minutes")
    args = parser.parse_args(argv)
    n_train, epochs, n_calls = (768, 3, 200) if args.quick else (3072, 4, 500)
    cuda = torch.cuda.is_available()
    if cuda:
        n_train *= 8
    X, y = make_faces(n_train, random_state=0, return_X_y=True)
    rows = []

    def record(name, train_rate, fit_seconds, model):
        batched, median_ms, p95_ms = inference(model, X[:2048], n_calls)
        rows.append((name, train_rate, fit_seconds, batched, median_ms, p95_ms))
        print(
            f"{name}: train {train_rate:,.0f} img/s, predict {batched:,.0f} faces/s, "
            f"latency median {median_ms:.2f} ms, p95 {p95_ms:.2f} ms",
            flush=True,
        )

    baseline = make_pca_ridge(random_state=0)
    tic = time.perf_counter()
    baseline.fit(X, y)
    seconds = time.perf_counter() - tic
    record("PCA + ridge", len(X) / seconds, seconds, baseline)
    for name, augmentation in [
        ("FacialKeypointRegressor, no augmentation", None),
        ("FacialKeypointRegressor (default augmentation)", "auto"),
        ("FacialKeypointRegressor, every augmentation", KeypointAugmenter()),
    ]:
        model = FacialKeypointRegressor(
            max_epochs=epochs, train_split=None, augmentation=augmentation, random_state=0
        )
        rate, seconds = training_throughput(model, X, y)
        record(f"{name} [{model.device_}]", rate, seconds, model)

    reference = rows[0]
    table = [
        [
            name,
            f"{rate:,.0f}",
            f"{seconds:.1f}",
            f"{batched:,.0f} ({batched / reference[3]:.2f}x)",
            f"{median:.2f} ({median / reference[4]:.1f}x)",
            f"{p95:.2f}",
        ]
        for name, rate, seconds, batched, median, p95 in rows
    ]
    header = [
        "model",
        "train (img/s)",
        "fit (s)",
        "predict (faces/s, vs PCA+ridge)",
        "latency median (ms, vs PCA+ridge)",
        "latency p95 (ms)",
    ]
    lines = [
        f"# Speed{' (quick)' if args.quick else ''}",
        "",
        *environment_lines(),
        f"- data: make_faces, {n_train} training faces of 96x96; CNN trained {epochs} epochs, "
        f"batch {FacialKeypointRegressor().batch_size}; latency over {n_calls} one-face calls",
        "",
        *markdown_table(header, table),
    ]
    out = RESULTS / f"speed{'_cuda' if cuda else ''}{'_quick' if args.quick else ''}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
