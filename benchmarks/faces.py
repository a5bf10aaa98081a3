"""Faces in whole photos: how often the detector finds the annotated face, and the
FaceLandmarker's held-out errors with detector boxes against landmark-framed crops.

1. Detection: every photo of the shared training data (YouTube frames and LFPW), counted
   as found when a box is centred inside the landmarks' box and its side is half to twice
   the landmarks' longer side.
2. FaceLandmarker (default settings, FacialKeypointRegressor inside) trained on 80% of
   the YouTube identities (GroupShuffleSplit, seed 0) and evaluated on the other 20%:
   on crops framed on the true landmarks (the regressor's own figure) and on faces found
   by the detector (matched with skfkd.faces.match_faces), with the share found.

Writes benchmarks/results/faces.md.

    python benchmarks/faces.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from _report import environment_lines, markdown_table
from sklearn.model_selection import GroupShuffleSplit

from skfkd import to_targets
from skfkd.datasets import get_data_home, load_landmark_folder, load_youtube_faces
from skfkd.faces import FaceLandmarker, detect_faces, match_faces
from skfkd.metrics import failure_rate, keypoint_rmse, normalized_mean_error
from skfkd.neural import FacialKeypointRegressor

RESULTS = Path(__file__).parent / "results"


def detection_rate(images, keypoints, step):
    found = 0
    rows = range(0, len(images), step)
    started = time.perf_counter()
    for i in rows:
        points = keypoints[i]
        low, high = points.min(axis=0), points.max(axis=0)
        centre, size = (low + high) / 2, high - low
        boxes = detect_faces(images[i])
        centres = boxes[:, :2] + boxes[:, 2:] / 2
        ratio = boxes[:, 2] / size.max()
        inside = (np.abs(centres - centre) <= size / 2).all(axis=1) & (ratio >= 0.5) & (ratio <= 2)
        found += bool(inside.any())
    seconds = (time.perf_counter() - started) / len(rows)
    return found, len(rows), seconds


def landmarker_errors(youtube, quick):
    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train, test = next(split.split(youtube.keypoints, groups=youtube.identities))
    if quick:
        train, test = train[::8], test[::8]
    regressor = FacialKeypointRegressor(random_state=0, **({"max_epochs": 3} if quick else {}))
    landmarker = FaceLandmarker(regressor, random_state=0, verbose=1)
    started = time.perf_counter()
    landmarker.fit(list(youtube.images[train]), youtube.keypoints[train])
    fit_seconds = time.perf_counter() - started
    truth = youtube.keypoints[test]
    crops = youtube.data[test]
    rows = []
    framed = landmarker.regressor_.predict(crops)
    rows.append(
        _row("crops framed on the true landmarks", youtube.target[test], framed, len(test), len(test))
    )
    started = time.perf_counter()
    found = match_faces(landmarker.predict(list(youtube.images[test])), truth)
    per_photo = (time.perf_counter() - started) / len(test)
    detected = ~np.isnan(found).all(axis=(1, 2))
    rows.append(
        _row(
            "faces found by the detector",
            to_targets(truth[detected]),
            to_targets(found[detected]),
            detected.sum(),
            len(test),
        )
    )
    return rows, fit_seconds, per_photo, landmarker


def _row(label, y_true, y_pred, n_found, n_total):
    return [
        label,
        f"{n_found}/{n_total} ({n_found / n_total:.1%})",
        f"{normalized_mean_error(y_true, y_pred):.2%}",
        f"{failure_rate(y_true, y_pred):.1%}",
        f"{keypoint_rmse(y_true, y_pred):.2f}",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a sample of photos and 3 epochs: a few minutes")
    parser.add_argument("--data", default=None, help="folder holding youtube_faces_68 and lfpw68_train")
    options = parser.parse_args(argv)
    data = Path(options.data) if options.data else get_data_home()
    youtube = load_youtube_faces(data / "youtube_faces_68")
    lfpw = load_landmark_folder(data / "lfpw68_train", crop_size=None)
    step = 20 if options.quick else 1

    detection = []
    for name, faces in (("YouTube frames", youtube), ("LFPW photos", lfpw)):
        found, total, seconds = detection_rate(faces.images, faces.keypoints, step)
        detection.append([name, f"{found}/{total}", f"{found / total:.1%}", f"{seconds * 1000:.0f}"])
        print(
            f"{name}: detector found {found} of {total} faces ({found / total:.1%}), {seconds * 1000:.0f} ms/photo"
        )
    rows, fit_seconds, per_photo, landmarker = landmarker_errors(youtube, options.quick)
    for row in rows:
        print(" | ".join(row))

    dx, dy, log_scale = landmarker.box_calibration_
    lines = [
        "# Faces in photos: detection and FaceLandmarker" + (" (quick)" if options.quick else ""),
        "",
        *environment_lines(),
        "",
        "## Detection (scikit-image LBP cascade, `detect_faces` defaults)",
        "",
        "A face counts as found when a box is centred inside the landmarks' box with a side of half "
        "to twice the landmarks' longer side.",
        "",
        *markdown_table(["photos", "found", "rate", "ms per photo"], detection),
        "",
        "## FaceLandmarker on held-out YouTube identities (80/20 GroupShuffleSplit, seed 0)",
        "",
        f"Default FaceLandmarker (box_jitter {landmarker.box_jitter}, n_refinements {landmarker.n_refinements}, "
        f"face check on); fit {fit_seconds:.0f} s, predict {per_photo * 1000:.0f} ms per photo (detection "
        f"included). Detector calibration on {landmarker.n_calibration_faces_} faces: landmark-box centre "
        f"offset ({dx:+.3f}, {dy:+.3f}) detector sides, scale {np.exp(log_scale):.3f}.",
        "",
        *markdown_table(["framing", "faces", "NME", "failures (NME > 0.08)", "RMSE (px)"], rows),
        "",
        "The first row frames each crop on the true landmarks (what the dataset crops hold); the "
        "second is the whole pipeline on photos: detection, calibration, face check, two re-framings. "
        "NME is over the faces found; faces the detector missed (or its face check rejected) are counted in "
        "the second column. RMSE is in crop pixels (96x96) in the first row and in photo pixels in the second.",
    ]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("faces_quick.md" if options.quick else "faces.md")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
