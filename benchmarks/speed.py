"""Training and inference speed of the default regressor beside PCA + ridge, on 96x96 faces.

For each model: training throughput (images per second; for the CNN with and without
augmentation, measured over the epochs after the first), batched inference throughput,
and single-face latency (median and 95th percentile over repeated one-face calls). On a
CUDA machine the regressor trains there with bfloat16 autocast and the data resident on
the GPU. Ratios compare each figure with PCA + ridge in the same run.

A second table puts ONNX Runtime beside torch on the CPU: the default-augmentation model
exported with skfkd.deploy.export_onnx, predicting the same faces in the same run, through
OnnxKeypointRegressor (the sklearn API, with its input checks) and through a bare ONNX
Runtime session, with 1 or 2 intra-op threads and two graph optimisation levels. Ratios
compare each figure with the torch model's predict.

Usage::

    python benchmarks/speed.py            # ~10 minutes on a 2-core CPU
    python benchmarks/speed.py --quick    # under 2 minutes

Writes ``benchmarks/results/speed[_cuda][_quick].md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
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
from skfkd.deploy import OnnxKeypointRegressor, export_onnx  # noqa: E402

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


class BareSession:
    """An ONNX Runtime session behind a ``predict``: no input checks, batches of 256."""

    def __init__(self, path, threads, level, spinning=True):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name = self.session.get_inputs()[0].name

    def predict(self, X):
        rows = X.astype(np.float32)
        return np.concatenate(
            [self.session.run(None, {self.name: rows[i : i + 256]})[0] for i in range(0, len(rows), 256)]
        )


def onnx_runtime_rows(model, X, n_calls):
    """``(name, faces/s, latency median ms, p95 ms)`` for torch and ONNX Runtime on the same faces."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        export_onnx(model, path)
        export_onnx(model, Path(folder) / "uint8.onnx", input_dtype="uint8")
        threads = torch.get_num_threads()
        runtimes = [  # (name, model, torch threads while it runs)
            (f"torch: FacialKeypointRegressor.predict ({threads} threads)", model, threads),
            ("torch: FacialKeypointRegressor.predict, 1 thread", model, 1),
            ("ONNX Runtime: OnnxKeypointRegressor, 1 thread (default)", OnnxKeypointRegressor(path), threads),
            (
                "ONNX Runtime: OnnxKeypointRegressor, 2 threads",
                OnnxKeypointRegressor(path, n_threads=2),
                threads,
            ),
            (
                "ONNX Runtime: OnnxKeypointRegressor, uint8 input, 1 thread",
                OnnxKeypointRegressor(Path(folder) / "uint8.onnx"),
                threads,
            ),
            (
                "ONNX Runtime session, 1 thread, ORT_ENABLE_ALL",
                BareSession(path, 1, "ORT_ENABLE_ALL"),
                threads,
            ),
            (
                "ONNX Runtime session, 1 thread, ORT_ENABLE_BASIC",
                BareSession(path, 1, "ORT_ENABLE_BASIC"),
                threads,
            ),
            (
                "ONNX Runtime session, 2 threads, ORT_ENABLE_ALL",
                BareSession(path, 2, "ORT_ENABLE_ALL"),
                threads,
            ),
            (
                "ONNX Runtime session, 2 threads, ORT_ENABLE_ALL, no spinning",
                BareSession(path, 2, "ORT_ENABLE_ALL", spinning=False),
                threads,
            ),
        ]
        rows = []
        try:
            for name, runtime, torch_threads in runtimes:
                torch.set_num_threads(torch_threads)
                batched, median_ms, p95_ms = inference(runtime, X, n_calls)
                rows.append((name, batched, median_ms, p95_ms))
                print(
                    f"{name}: predict {batched:,.0f} faces/s, latency median {median_ms:.3f} ms, "
                    f"p95 {p95_ms:.3f} ms",
                    flush=True,
                )
        finally:
            torch.set_num_threads(threads)
    return rows


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

    deployed = None
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
        if augmentation == "auto":
            deployed = model
    onnx_rows = onnx_runtime_rows(deployed, X[:2048], n_calls) if not cuda else []

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
    if onnx_rows:
        torch_row = onnx_rows[0]
        lines += [
            "",
            "## ONNX Runtime beside torch (CPU)",
            "",
            "The default-augmentation model above, exported with `skfkd.deploy.export_onnx`; the same faces, "
            "in the same run. Ratios: against the torch model's predict with torch's default threads (the "
            "first row; throughput: higher is better; latency: lower is better).",
            "",
            *markdown_table(
                [
                    "runtime",
                    "predict (faces/s, vs torch)",
                    "latency median (ms, vs torch)",
                    "latency p95 (ms)",
                ],
                [
                    [
                        name,
                        f"{batched:,.0f} ({batched / torch_row[1]:.2f}x)",
                        f"{median:.3f} ({median / torch_row[2]:.2f}x)",
                        f"{p95:.3f}",
                    ]
                    for name, batched, median, p95 in onnx_rows
                ],
            ),
        ]
    out = RESULTS / f"speed{'_cuda' if cuda else ''}{'_quick' if args.quick else ''}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
