"""Train the pretrained 68-point landmarker that ships in skfkd/_data, and measure it.

The default FaceLandmarker (FacialKeypointRegressor inside, ``random_state=0``) is
trained on the shared training photos of both sources, each with a fixed part held out:
YouTube Faces by identity (``GroupShuffleSplit(test_size=0.2, random_state=0)``, the split
of benchmarks/accuracy.py) and LFPW by file (``ShuffleSplit(test_size=0.2,
random_state=0)``, the split of its ``mixed`` suite). On each held-out part it reports NME
(inter-ocular), the failure rate at 0.08 and the CED, on crops framed on the true
landmarks (the regressor alone) and on the faces its detector finds in the photos (the
whole pipeline), beside dlib's regression-tree shape predictor trained on the same crops
when ``dlib`` is importable.

Writes ``skfkd/_data/landmarker_68.skops`` (loaded by ``skfkd.load_pretrained()``), its
model card ``skfkd/_data/landmarker_68.md``, and ``benchmarks/results/pretrained.md`` with
a CED plot beside it.

    python benchmarks/train_pretrained.py           # tens of minutes on a 2-core CPU
    python benchmarks/train_pretrained.py --quick   # a few minutes; writes under results/ only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment_lines, markdown_table, plot_ced_panels  # noqa: E402

import skfkd  # noqa: E402
from skfkd import to_targets  # noqa: E402
from skfkd.datasets import get_data_home, load_landmark_folder, load_youtube_faces  # noqa: E402
from skfkd.deploy import save_model  # noqa: E402
from skfkd.faces import (  # noqa: E402
    FaceLandmarker,
    crop_faces,
    landmark_frames,
    match_faces,
    uncrop_keypoints,
)
from skfkd.metrics import ced_auc, ced_curve, failure_rate, normalized_mean_error  # noqa: E402
from skfkd.neural import FacialKeypointRegressor  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SHIPPED = HERE.parent / "skfkd" / "_data"


def split_sources(data, quick):
    """``{source: (train faces, held-out faces)}``, each a dict of photos, keypoints, crops."""
    youtube = load_youtube_faces(data / "youtube_faces_68")
    lfpw = load_landmark_folder(data / "lfpw68_train")
    youtube_split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    lfpw_split = ShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    parts = {
        "YouTube Faces (held-out identities)": (
            youtube,
            next(youtube_split.split(youtube.data, groups=youtube.identities)),
        ),
        "LFPW (held-out photos)": (lfpw, next(lfpw_split.split(lfpw.data))),
    }
    sources = {}
    for name, (faces, (train, test)) in parts.items():
        if quick:
            train, test = train[::6], test[::4]

        def take(rows, faces=faces):
            return {
                "photos": list(faces.images[rows]),
                "keypoints": faces.keypoints[rows],
                "X": faces.data[rows],
                "y": faces.target[rows],
            }

        sources[name] = (take(train), take(test))
    return sources


def scores(y_true, y_pred, n_found=None, n_total=None):
    thresholds, fractions = ced_curve(y_true, y_pred)
    return {
        "nme": normalized_mean_error(y_true, y_pred),
        "failure": failure_rate(y_true, y_pred),
        "auc": ced_auc(y_true, y_pred),
        "found": "" if n_found is None else f"{n_found}/{n_total} ({n_found / n_total:.1%})",
        "ced": (thresholds, fractions),
    }


def framed_on_the_landmarks(landmarker, photos, keypoints):
    """The landmarker's regressor on crops framed on the true landmarks, as the landmarker
    frames them (eye-aligned), mapped back to photo pixels: ``(n, 2 * n_keypoints)``."""
    frames = landmark_frames(keypoints, margin=landmarker.crop_margin, align=landmarker.align)
    X = crop_faces(photos, frames, size=landmarker.crop_size)
    return uncrop_keypoints(landmarker.regressor_.predict(X), frames, size=landmarker.crop_size)


def evaluate_landmarker(landmarker, held_out):
    truth = to_targets(held_out["keypoints"])
    rows = {
        "crops framed on the true landmarks": scores(
            truth, framed_on_the_landmarks(landmarker, held_out["photos"], held_out["keypoints"])
        )
    }
    found = match_faces(landmarker.predict(held_out["photos"]), held_out["keypoints"])
    detected = ~np.isnan(found).all(axis=(1, 2))
    rows["faces its detector finds in the photos"] = scores(
        to_targets(held_out["keypoints"][detected]),
        to_targets(found[detected]),
        int(detected.sum()),
        len(detected),
    )
    return rows


def train_dlib(train_sets):
    try:
        from _peers import DlibShapePredictor
    except ImportError:
        return None, None
    try:
        import dlib  # noqa: F401
    except ImportError:
        return None, None
    X = np.concatenate([train["X"] for train in train_sets])
    y = np.concatenate([train["y"] for train in train_sets])
    print(f"dlib shape predictor: training on {len(X)} crops ...", flush=True)
    tic = time.perf_counter()
    predictor = DlibShapePredictor().fit(X, y)
    return predictor, time.perf_counter() - tic


def model_card(figures, fit_seconds, n_train, command, file_size):
    lines = [
        "# skfkd pretrained 68-point landmarker",
        "",
        f"- version: skfkd {skfkd.__version__} (model file `landmarker_68.skops`, {file_size / 1e6:.1f} MB)",
        "- what: `skfkd.faces.FaceLandmarker` with a default `skfkd.FacialKeypointRegressor` inside "
        "(a CNN with local keypoint refinement; its autoencoder's reconstruction weight is 0 "
        "by default, so the decoder is not trained) and the YuNet face detector (shipped in "
        "`skfkd/_data/yunet`, Apache-2.0) calibrated to the landmark framing.",
        "- output: the 68 iBUG/dlib points (`skfkd.IBUG_68`), in photo pixels, x = column, y = row, "
        "pixel centres at integers.",
        "- input framing: grayscale 96x96 crops of a square turned upright by the eye line (outer eye "
        "corners), holding the landmarks with a margin of 0.1 of their extent on every side "
        "(`skfkd.faces.landmark_frames`, `skfkd.faces.crop_faces`); from photos, the detector's box and "
        "eyes are mapped to that framing, then the face is re-framed twice on the model's own prediction.",
        f"- training data: {n_train} faces: 80% of the YouTube Faces identities of the shared training "
        "split (frames prepared for Udacity's P1 Facial Keypoints project) and 80% of the LFPW training "
        "photos (300-W annotations).",
        "- licences: YouTube Faces (Wolf, Hassner and Maoz, 2011) and LFPW (Belhumeur et al., 2011; "
        "300-W annotations by Sagonas et al., 2013) are for **research and non-commercial use only**; "
        "so is this model, which is derived from them.",
        f"- training command: `{command}` (seed 0, {fit_seconds / 60:.0f} min on a 2-core CPU); "
        "`make pretrained` runs it.",
        "- limits: frontal to moderately turned faces (the training photos hold few profiles); "
        "the YouTube frames and the 300-W photos were annotated by different people, whose "
        "conventions differ slightly.",
        "",
        "## Held-out figures",
        "",
        "NME: mean point error over the outer inter-ocular distance; failure: share of faces with "
        "NME > 0.08; AUC of the CED up to 0.08.",
        "",
        *figures,
    ]
    return "\n".join(lines) + "\n"


def figure_tables(results):
    lines = []
    header = ["model", "framing", "faces found", "NME", "failure rate (NME > 0.08)", "AUC@0.08"]
    for source, rows in results.items():
        table = [
            [model, framing, r["found"], f"{r['nme']:.2%}", f"{r['failure']:.1%}", f"{r['auc']:.3f}"]
            for (model, framing), r in rows.items()
        ]
        lines += [f"### {source}", "", *markdown_table(header, table), ""]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a sample and 3 epochs; the shipped model is kept"
    )
    parser.add_argument("--data", default=None, help="folder holding youtube_faces_68 and lfpw68_train")
    parser.add_argument("--no-dlib", action="store_true", help="skip dlib's shape predictor")
    options = parser.parse_args(argv)
    data = Path(options.data) if options.data else get_data_home()
    sources = split_sources(data, options.quick)
    train_sets = [train for train, _ in sources.values()]
    photos = [photo for train in train_sets for photo in train["photos"]]
    keypoints = np.concatenate([train["keypoints"] for train in train_sets])

    regressor = FacialKeypointRegressor(random_state=0, **({"max_epochs": 3} if options.quick else {}))
    landmarker = FaceLandmarker(regressor, random_state=0, verbose=1)
    print(f"FaceLandmarker: training on {len(photos)} photos ...", flush=True)
    tic = time.perf_counter()
    landmarker.fit(photos, keypoints)
    fit_seconds = time.perf_counter() - tic
    print(f"  fit in {fit_seconds:.0f} s", flush=True)

    dlib, dlib_seconds = (None, None) if options.no_dlib else train_dlib(train_sets)
    results = {}
    for source, (_, held_out) in sources.items():
        print(f"{source}: {len(held_out['X'])} faces", flush=True)
        rows = {
            ("skfkd pretrained", framing): r
            for framing, r in evaluate_landmarker(landmarker, held_out).items()
        }
        if dlib is not None:
            rows["dlib shape predictor (axis-aligned crops)", "crops framed on the true landmarks"] = scores(
                held_out["y"], dlib.predict(held_out["X"])
            )
        for (model, framing), r in rows.items():
            print(
                f"  {model}, {framing}: NME {r['nme']:.2%}, failures {r['failure']:.1%}, AUC {r['auc']:.3f}"
            )
        results[source] = rows

    figures = figure_tables(results)
    RESULTS.mkdir(exist_ok=True)
    report = RESULTS / f"pretrained{'_quick' if options.quick else ''}.md"
    extra = [f"- dlib trained on the same {len(keypoints)} crops in {dlib_seconds:.0f} s"] if dlib else []
    report.write_text(
        "\n".join(
            [
                "# Pretrained landmarker" + (" (quick)" if options.quick else ""),
                "",
                *environment_lines(),
                f"- FaceLandmarker fit on {len(photos)} photos in {fit_seconds:.0f} s",
                *extra,
                "",
                *figures,
            ]
        )
        + "\n"
    )
    panels = {
        source: {f"{model}: {framing}": r["ced"] for (model, framing), r in rows.items()}
        for source, rows in results.items()
    }
    plot_ced_panels(panels, report.with_suffix(".png"))
    print(f"wrote {os.path.relpath(report)}")
    if options.quick:
        return
    SHIPPED.mkdir(exist_ok=True)
    model_path = SHIPPED / "landmarker_68.skops"
    save_model(landmarker, model_path)
    command = "python benchmarks/train_pretrained.py"
    card = model_card(figures, fit_seconds, len(photos), command, model_path.stat().st_size)
    (SHIPPED / "landmarker_68.md").write_text(card)
    print(
        f"wrote {os.path.relpath(model_path)} ({model_path.stat().st_size / 1e6:.1f} MB) and its model card"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
