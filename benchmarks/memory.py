"""Peak memory of ``predict`` on many faces: the torch regressor and ONNX Runtime.

Each model predicts on 20,000 faces of 96x96 uint8 pixels (176 MiB) in a fresh process;
a thread samples the process's resident memory every millisecond, and the figure is the
peak during ``predict`` above the resident memory just before it (input, model and
libraries already loaded), as a multiple of the input's size. The network is the default
architecture trained for one epoch: the weights' values do not change the memory.

Usage::

    python benchmarks/memory.py                  # ~1 minute
    python benchmarks/memory.py --label before   # names the run in the results file

Writes (appends a section to) ``benchmarks/results/memory.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment_lines, markdown_table  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
N_FACES, SIDE = 20_000, 96
MIB = 2**20


def _resident_bytes():
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096


def _peak_during(call):
    """Run ``call()``; return the peak resident memory above the level before it, in bytes."""
    before = _resident_bytes()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _resident_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        call()
    finally:
        done.set()
        sampler.join()
    return max(peak[0], _resident_bytes()) - before


def _measure(kind, model_dir):
    """In this (fresh) process: load the model, make the faces, measure predict."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(N_FACES, SIDE * SIDE), dtype=np.uint8)
    if kind == "torch":
        import joblib

        model = joblib.load(Path(model_dir) / "model.joblib")
    else:
        from skfkd.deploy import OnnxKeypointRegressor

        model = OnnxKeypointRegressor(Path(model_dir) / f"{kind}.onnx")
    model.predict(X[:300])  # libraries, kernels and caches in place before measuring
    started = time.perf_counter()
    peak = _peak_during(lambda: model.predict(X))
    return {"peak": peak, "input": X.nbytes, "seconds": time.perf_counter() - started}


def _prepare(model_dir):
    import joblib

    from skfkd import FacialKeypointRegressor
    from skfkd.datasets import make_faces

    X, y = make_faces(256, random_state=0, return_X_y=True)
    model = FacialKeypointRegressor(max_epochs=1, train_split=None, random_state=0).fit(X, y)
    joblib.dump(model, Path(model_dir) / "model.joblib")
    runs = ["torch"]
    try:
        from skfkd.deploy import export_onnx

        export_onnx(model, Path(model_dir) / "onnx_float32.onnx")
        export_onnx(model, Path(model_dir) / "onnx_uint8.onnx", input_dtype="uint8")
        runs += ["onnx_float32", "onnx_uint8"]
    except ImportError as error:
        print(f"ONNX Runtime rows skipped: {error}")
    return runs


LABELS = {
    "torch": "FacialKeypointRegressor (torch)",
    "onnx_float32": "OnnxKeypointRegressor, float32 graph",
    "onnx_uint8": "OnnxKeypointRegressor, uint8 graph",
}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", default="current code", help="name of this run in the results file")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for memory.md")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # the child process
        print(json.dumps(_measure(*args.measure)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as model_dir:
        for kind in _prepare(model_dir):
            out = subprocess.run(
                [sys.executable, __file__, "--measure", kind, model_dir],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures = json.loads(out.strip().splitlines()[-1])
            ratio = figures["peak"] / figures["input"]
            rows.append(
                [
                    LABELS[kind],
                    f"{figures['input'] / MIB:.0f}",
                    f"{figures['peak'] / MIB:.0f}",
                    f"{ratio:.2f}x",
                    f"{figures['seconds']:.1f}",
                ]
            )
            print(rows[-1], flush=True)
    header = ["model", "input (MiB, uint8)", "peak above start (MiB)", "peak / input", "predict (s)"]
    lines = [
        f"## {args.label}",
        "",
        *environment_lines(),
        "",
        f"predict on {N_FACES:,} faces of {SIDE}x{SIDE} uint8 pixels, each model in a fresh process",
        "",
        *markdown_table(header, rows),
        "",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / "memory.md"
    previous = path.read_text() if path.exists() else "# Peak memory of predict\n\n"
    path.write_text(previous + "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
