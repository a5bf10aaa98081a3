"""Training and inference speed of the default regressor beside its peers, on 96x96 faces.

One run, the same faces for every model: training throughput (images per second; for the
CNN with augmentation on, as it trains by default, and without, measured over the epochs
after the first), batched inference throughput (batches of 256) and single-face latency
(median and 95th percentile over one-face ``predict`` calls, each a full call with its
input checks). Peers: PCA + ridge, dlib's shape predictor (regression trees) when ``dlib``
is importable, and the default model exported to ONNX and run by ONNX Runtime
(:class:`skfkd.deploy.OnnxKeypointRegressor`) when the ``deploy`` extra is installed. On a
CUDA machine the regressor also trains and predicts there with bfloat16 autocast and the
training data resident on the GPU. Ratios compare every model with the default regressor
on the CPU.

Usage::

    python benchmarks/speed.py            # ~10 minutes on a 2-core CPU
    python benchmarks/speed.py --quick    # under 2 minutes

Writes ``benchmarks/results/speed[_quick].md``.
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
from skfkd.baselines import make_pca_ridge  # noqa: E402
from skfkd.datasets import make_faces  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = (
    "CPU targets (issue 7, this 2-core CPU): training >= 600 img/s with augmentation, "
    "predict >= 2,000 faces/s, latency <= 0.7 ms"
)


def fit_throughput(model, X, y):
    """Images per second over the epochs after the first (which pays one-off set-up)."""
    tic = time.perf_counter()
    model.fit(X, y)
    total = time.perf_counter() - tic
    epochs = model.history_[:, "dur"][1:] if hasattr(model, "history_") else []
    return (len(X) / statistics.median(epochs) if len(epochs) else len(X) / total), total


def inference(model, X, n_calls):
    """Batched faces/s (batches of 256, best of 3 passes) and one-face latency in ms."""
    model.predict(X[:256])  # warm-up
    rates = []
    for _ in range(3):
        tic = time.perf_counter()
        for start in range(0, len(X), 256):
            model.predict(X[start : start + 256])
        rates.append(len(X) / (time.perf_counter() - tic))
    for i in range(20):
        model.predict(X[i][None])
    latencies = []
    for i in range(n_calls):
        face = X[i % len(X)][None]
        tic = time.perf_counter()
        model.predict(face)
        latencies.append((time.perf_counter() - tic) * 1000)
    return max(rates), statistics.median(latencies), float(np.percentile(latencies, 95))


def _dlib(quick):
    try:
        import dlib  # noqa: F401
    except ImportError:
        return None
    from _peers import DlibShapePredictor

    # Oversampling only changes how many training samples dlib draws, not the model's size,
    # so the quick run's predict figures are those of the full recipe.
    return DlibShapePredictor(oversampling_amount=2 if quick else 20)


def _onnx_models(model, folder):
    try:
        from skfkd.deploy import OnnxKeypointRegressor, export_onnx
    except ImportError:
        return []
    try:
        export_onnx(model, Path(folder) / "model.onnx")
        export_onnx(model, Path(folder) / "uint8.onnx", input_dtype="uint8")
    except ImportError as error:
        print(f"no ONNX rows: {error}")
        return []
    return [
        (
            "ONNX Runtime (OnnxKeypointRegressor, 1 thread)",
            OnnxKeypointRegressor(Path(folder) / "model.onnx"),
        ),
        (
            "ONNX Runtime (OnnxKeypointRegressor, 2 threads)",
            OnnxKeypointRegressor(Path(folder) / "model.onnx", n_threads=2),
        ),
        ("ONNX Runtime, uint8 input (1 thread)", OnnxKeypointRegressor(Path(folder) / "uint8.onnx")),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and epochs: under 2 minutes")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="folder to write to (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    n_train, epochs, n_calls = (768, 3, 200) if args.quick else (3072, 4, 500)
    X, y = make_faces(n_train, random_state=0, return_X_y=True)
    X_test = make_faces(2048, random_state=1).data
    rows = []

    def record(name, model, train_rate, fit_seconds, images=X_test):
        batched, median_ms, p95_ms = inference(model, images, n_calls)
        rows.append((name, train_rate, fit_seconds, batched, median_ms, p95_ms))
        train = "" if train_rate is None else f"train {train_rate:,.0f} img/s, "
        print(
            f"{name}: {train}predict {batched:,.0f} faces/s, latency median {median_ms:.2f} ms, p95 {p95_ms:.2f} ms",
            flush=True,
        )

    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    default = None
    for device in devices:
        for name, augmentation in [("default, augmentation on", "auto"), ("no augmentation", None)]:
            model = FacialKeypointRegressor(
                max_epochs=epochs, train_split=None, augmentation=augmentation, device=device, random_state=0
            )
            rate, seconds = fit_throughput(model, X, y)
            label = f"FacialKeypointRegressor, {name} [{device}{', bf16' if device == 'cuda' else ''}]"
            record(label, model, rate, seconds)
            if device == "cpu" and augmentation == "auto":
                default = model
    # A thread setting, not a model: torch's intra-op threads pay for batches, and may not
    # for one small face, where handing work to a second thread costs more than it saves.
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
        try:
            record(
                "FacialKeypointRegressor, default, predicting on 1 torch thread [cpu]", default, None, None
            )
        finally:
            torch.set_num_threads(threads)
    for name, peer in [
        ("PCA + ridge", make_pca_ridge(random_state=0)),
        ("dlib shape predictor", _dlib(args.quick)),
    ]:
        if peer is None:
            print(f"{name}: not installed, skipped")
            continue
        tic = time.perf_counter()
        peer.fit(X, y)
        seconds = time.perf_counter() - tic
        record(name, peer, len(X) / seconds, seconds)
    with tempfile.TemporaryDirectory() as folder:
        for name, onnx_model in _onnx_models(default, folder):
            record(name, onnx_model, None, None)

    reference = rows[0]
    table = [
        [
            name,
            "—" if rate is None else f"{rate:,.0f} ({rate / reference[1]:.2f}x)",
            "—" if seconds is None else f"{seconds:.1f}",
            f"{batched:,.0f} ({batched / reference[3]:.2f}x)",
            f"{median:.3f} ({median / reference[4]:.2f}x)",
            f"{p95:.3f}",
        ]
        for name, rate, seconds, batched, median, p95 in rows
    ]
    header = [
        "model",
        "train (img/s, vs default)",
        "fit (s)",
        "predict (faces/s, vs default)",
        "latency median (ms, vs default)",
        "latency p95 (ms)",
    ]
    lines = [
        f"# Speed{' (quick)' if args.quick else ''}",
        "",
        *environment_lines(),
        f"- data: make_faces, {n_train} training faces of 96x96 and 2048 others to predict; the CNN trains "
        f"{epochs} epochs in batches of {FacialKeypointRegressor().batch_size}; latency over {n_calls} one-face "
        "calls; ratios against the first row (higher is faster for throughput, lower for latency)",
        f"- {TARGETS}",
        "",
        *markdown_table(header, table),
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"speed{'_quick' if args.quick else ''}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
