"""FaceLandmarker's shift test (``shift_test``) on the tuning split: how far to move the frames.

The landmarker's last pass can average its prediction on a face's frame with those on the
frame moved by ``shift_test`` of its side right, left, down and up. This measures each
amount given, side by side in one run, on the tuning split of benchmarks/wild_levers.py (the
20% of each source's training part kept for tuning; the held-out parts are never read),
with the crops framed on the true landmarks as the landmarker frames them: NME (outer
inter-ocular) per source and pooled over LFPW, HELEN and AFW, the failure rate at 0.08, and
the time per face against no shift test.

    python benchmarks/shift_test.py 0 0.02 0.04                      # the shipped landmarker
    python benchmarks/shift_test.py --model levers/x.skops 0 0.04    # a lever's kept landmarker

The shipped landmarker trained on these faces (its training parts hold the tuning split), so
its figures here are lower than on unseen faces; a lever's landmarker (kept by
wild_levers.py) did not. Writes benchmarks/results/shift_test.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment_lines, markdown_table  # noqa: E402
from _sources import SOURCES, split_source  # noqa: E402
from _wild import framed_on_the_landmarks  # noqa: E402
from wild_levers import SCORE_COLUMNS, tuning_scores, tuning_split  # noqa: E402

from skfkd import load_pretrained, to_targets  # noqa: E402
from skfkd.datasets import get_data_home  # noqa: E402
from skfkd.deploy import load_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("amounts", nargs="+", type=float, help="shift_test values; 0 is no shift test")
    parser.add_argument("--model", default=None, help="a landmarker's skops file (default: the shipped one)")
    parser.add_argument(
        "--data", default=None, help="folder holding the shared sources (default: SKFKD_DATA)"
    )
    options = parser.parse_args(argv)
    data = Path(options.data) if options.data else get_data_home()
    landmarker = load_model(options.model) if options.model else load_pretrained()
    tuning = {name: tuning_split(split_source(data, name)[0], name)[1] for name in SOURCES}
    truth = {name: to_targets(part.keypoints) for name, part in tuning.items()}
    rows, seconds = [], {}
    for amount in options.amounts:
        landmarker.set_params(shift_test=amount)
        tic = time.perf_counter()
        predicted = {
            name: framed_on_the_landmarks(landmarker, part.photos, part.keypoints)
            for name, part in tuning.items()
        }
        seconds[amount] = time.perf_counter() - tic
        rows.append([f"{amount:g}", *tuning_scores(truth, predicted).values(), f"{seconds[amount]:.0f}"])
        print(" | ".join(rows[-1]), flush=True)
    baseline = seconds.get(0.0)
    for row, amount in zip(rows, options.amounts):
        row.append(f"{seconds[amount] / baseline:.1f}" if baseline else "(no 0 run)")
    model = options.model or "the shipped landmarker (skfkd.load_pretrained(); it trained on these faces)"
    n_faces = ", ".join(f"{name} {len(part.keypoints)}" for name, part in tuning.items())
    lines = [
        "# FaceLandmarker's shift test on the tuning split",
        "",
        *environment_lines(),
        f"- model: {model}",
        f"- faces: the tuning split's validation faces ({n_faces}), framed on their true landmarks",
        "",
        "NME: mean point error over the outer inter-ocular distance. Failures: 300-W faces with NME > 0.08. "
        "Time: all sources' faces, crops and network, against no shift test.",
        "",
        *markdown_table(
            ["shift_test", *SCORE_COLUMNS, "time (s)", "time ratio"],
            rows,
        ),
    ]
    out = RESULTS / "shift_test.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
