"""FaceLandmarker's shift test (``shift_test``) on the tuning split: how far to move the frames.

The landmarker's last pass can average its prediction on a face's frame with those on the
frame moved by ``shift_test`` of its side right, left, down and up; its regressor can also
predict on each crop's mirror image (``flip_test``: False, True, or "shape", which keeps the
plain prediction's position). This measures each amount given with each flip test given,
side by side in one run, on the tuning split of benchmarks/wild_levers.py (the
20% of each source's training part kept for tuning; the held-out parts are never read),
with the crops framed on the true landmarks as the landmarker frames them: NME (outer
inter-ocular) per source and pooled over LFPW, HELEN and AFW, the failure rate at 0.08, and
the time per face against no shift test.

    python benchmarks/shift_test.py 0 0.02 0.04                      # the shipped landmarker
    python benchmarks/shift_test.py --model levers/x.skops 0 0.04    # a lever's kept landmarker
    python benchmarks/shift_test.py 0.04 --flip-tests false shape    # with and without the flip test

The shipped landmarker trained on these faces (its training parts hold the tuning split), so
its figures here are lower than on unseen faces; a lever's landmarker (kept by
wild_levers.py) did not. Writes benchmarks/results/shift_test.md for the shipped landmarker,
shift_test_<model file's stem>.md for another, so that neither run overwrites the other.
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
FLIP_TESTS = {"false": False, "true": True, "shape": "shape"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("amounts", nargs="+", type=float, help="shift_test values; 0 is no shift test")
    parser.add_argument("--model", default=None, help="a landmarker's skops file (default: the shipped one)")
    parser.add_argument(
        "--flip-tests",
        nargs="+",
        default=["false"],
        choices=sorted(FLIP_TESTS),
        help="the regressor's flip_test values to measure with each amount (default: false)",
    )
    parser.add_argument(
        "--data", default=None, help="folder holding the shared sources (default: SKFKD_DATA)"
    )
    options = parser.parse_args(argv)
    data = Path(options.data) if options.data else get_data_home()
    landmarker = load_model(options.model) if options.model else load_pretrained()
    tuning = {name: tuning_split(split_source(data, name)[0], name)[1] for name in SOURCES}
    truth = {name: to_targets(part.keypoints) for name, part in tuning.items()}
    rows, seconds = [], {}
    runs = [(amount, FLIP_TESTS[flip]) for flip in options.flip_tests for amount in options.amounts]
    for amount, flip_test in runs:
        landmarker.set_params(shift_test=amount)
        landmarker.regressor_.set_params(flip_test=flip_test)
        tic = time.perf_counter()
        predicted = {
            name: framed_on_the_landmarks(landmarker, part.photos, part.keypoints)
            for name, part in tuning.items()
        }
        seconds[amount, flip_test] = time.perf_counter() - tic
        scores = tuning_scores(truth, predicted).values()
        rows.append([f"{amount:g}", str(flip_test), *scores, f"{seconds[amount, flip_test]:.0f}"])
        print(" | ".join(rows[-1]), flush=True)
    baseline = seconds.get((0.0, False))
    for row, run in zip(rows, runs):
        row.append(f"{seconds[run] / baseline:.1f}" if baseline else "(no plain run)")
    model = options.model or "the shipped landmarker (skfkd.load_pretrained(); it trained on these faces)"
    n_faces = ", ".join(f"{name} {len(part.keypoints)}" for name, part in tuning.items())
    lines = [
        "# FaceLandmarker's shift test and flip test on the tuning split",
        "",
        *environment_lines(),
        f"- model: {model}",
        f"- faces: the tuning split's validation faces ({n_faces}), framed on their true landmarks",
        "",
        "NME: mean point error over the outer inter-ocular distance. Failures: 300-W faces with NME > 0.08. "
        "Time: all sources' faces, crops and network, against neither test (shift_test 0, flip_test False).",
        "",
        *markdown_table(
            ["shift_test", "flip_test", *SCORE_COLUMNS, "time (s)", "time ratio"],
            rows,
        ),
    ]
    out = RESULTS / (f"shift_test_{Path(options.model).stem}.md" if options.model else "shift_test.md")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
