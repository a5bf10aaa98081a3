"""The in-the-wild measurements that benchmarks/train_pretrained.py and the ``wild`` suite of
benchmarks/accuracy.py share: the recipe's training set, the held-out predictions (framed on
the true landmarks, and through each landmarker's own detector), and their tables.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
from _report import environment_lines, markdown_table, plot_ced_panels
from _sources import IN_THE_WILD

from skfkd import IBUG_68, to_targets
from skfkd.datasets import mirror_faces
from skfkd.faces import landmark_frames, match_faces, uncrop_keypoints
from skfkd.faces._recipes import WILD_REPEATS
from skfkd.metrics import ced_auc, ced_curve, failure_rate, normalized_mean_error

POOLED = "300-W sources pooled (LFPW, HELEN, AFW held out)"
FRAMED, DETECTED = "crops framed on the true landmarks", "faces its detector finds in the photos"
DLIB = "dlib shape predictor (axis-aligned crops)"


def photo_training_set(parts, repeats=WILD_REPEATS, mirror=True):
    """Photos and keypoints of every training part, with the 300-W faces' mirror images
    (``mirror``), the 300-W faces and their mirror images ``repeats`` times: the recipe's
    weighting of the sources per epoch."""
    photos, keypoints = [], []
    for name, part in parts.items():
        rows_photos, rows_keypoints = list(part.photos), part.keypoints
        if mirror and name in IN_THE_WILD:
            mirrored_photos, mirrored = mirror_faces(part.photos, part.keypoints, IBUG_68)
            rows_photos = rows_photos + mirrored_photos
            rows_keypoints = np.concatenate([rows_keypoints, mirrored])
        copies = repeats if name in IN_THE_WILD else 1
        photos += rows_photos * copies
        keypoints += [rows_keypoints] * copies
    return photos, np.concatenate(keypoints)


def crop_training_set(parts):
    """The faces of every training part as axis-aligned 96x96 crops (the datasets' framing),
    with the 300-W faces' mirror images, once each: dlib's training set."""
    X, y = [], []
    for name, part in parts.items():
        X.append(part.X)
        y.append(part.y)
        if name in IN_THE_WILD:
            crops = [row.reshape(96, 96) for row in part.X]
            mirrored_crops, mirrored_targets = mirror_faces(crops, part.y, IBUG_68)
            X.append(np.stack(mirrored_crops).reshape(len(crops), -1))
            y.append(to_targets(mirrored_targets))
    return np.concatenate(X), np.concatenate(y)


def training_set(parts):
    """The recipe's photos and keypoints (:func:`photo_training_set`) and dlib's crops
    (:func:`crop_training_set`) of the same training parts."""
    return (*photo_training_set(parts), *crop_training_set(parts))


def framed_on_the_landmarks(landmarker, photos, keypoints):
    """The landmarker's regressor on crops framed on the true landmarks, as the landmarker
    frames them (eye-aligned), mapped back to photo pixels: ``(n, 2 * n_keypoints)``."""
    frames = landmark_frames(keypoints, margin=landmarker.crop_margin, align=landmarker.align)
    return landmarker.predict_frames(photos, frames).reshape(len(frames), -1)


def scores(y_true, y_pred, n_found=None, n_total=None):
    thresholds, fractions = ced_curve(y_true, y_pred)
    return {
        "nme": normalized_mean_error(y_true, y_pred),
        "failure": failure_rate(y_true, y_pred),
        "auc": ced_auc(y_true, y_pred),
        "found": "" if n_found is None else f"{n_found}/{n_total} ({n_found / n_total:.1%})",
        "ced": (thresholds, fractions),
    }


def predictions(landmarkers, dlib, held_out):
    """``{(model, framing): (truth, predicted, found or None)}`` on one held-out part, for
    each named landmarker (framed crops and its own detector) and dlib (framed crops)."""
    truth = to_targets(held_out.keypoints)
    results = {}
    for name, landmarker in landmarkers.items():
        found = match_faces(landmarker.predict(held_out.photos), held_out.keypoints)
        detected = ~np.isnan(found).all(axis=(1, 2))
        framed = framed_on_the_landmarks(landmarker, held_out.photos, held_out.keypoints)
        results[name, FRAMED] = (truth, framed, None)
        results[name, DETECTED] = (truth[detected], to_targets(found[detected]), detected)
    if dlib is not None:
        results[DLIB, FRAMED] = (
            truth,
            uncrop_keypoints(dlib.predict(held_out.X), landmark_frames(held_out.keypoints, align=False)),
            None,
        )
    return results


def score_table(results):
    rows = {}
    for key, (truth, predicted, detected) in results.items():
        found = (int(detected.sum()), len(detected)) if detected is not None else (None, None)
        rows[key] = scores(truth, predicted, *found)
    return rows


def pooled(per_source):
    """The three 300-W sources' predictions in one set."""
    merged = {}
    for name in IN_THE_WILD:
        for key, (truth, predicted, detected) in per_source[name].items():
            before = merged.get(key)
            if before is None:
                merged[key] = (truth, predicted, detected)
            else:
                merged[key] = (
                    np.concatenate([before[0], truth]),
                    np.concatenate([before[1], predicted]),
                    None if detected is None else np.concatenate([before[2], detected]),
                )
    return merged


def benchmark_cache():
    """The folder, outside the repository, where benchmarks keep what is slow to remake:
    ``SKFKD_BENCHMARK_CACHE``, by default ``~/.cache/skfkd-benchmarks``."""
    return Path(os.environ.get("SKFKD_BENCHMARK_CACHE", Path.home() / ".cache" / "skfkd-benchmarks"))


def train_dlib(X, y):
    """dlib's shape predictor trained on ``X, y`` and its training time in seconds, or
    ``(None, None)`` without dlib.

    dlib's training is deterministic and takes about an hour on the recipe's training set
    (48 and 58 min measured on 2-core CPUs), so the trained model is kept in the benchmark
    cache (:func:`benchmark_cache`) under the hash of its training data and options, with
    the time its training took, and reused by the next run on the same data.
    """
    try:
        import dlib
        from _peers import DlibShapePredictor
    except ImportError:
        return None, None
    predictor = DlibShapePredictor()
    X, y = np.ascontiguousarray(X), np.ascontiguousarray(y, dtype=float)
    digest = hashlib.sha256(X.tobytes() + y.tobytes() + repr(predictor.get_params()).encode()).hexdigest()[
        :20
    ]
    cache = benchmark_cache()
    model_file, seconds_file = cache / f"dlib-{digest}.dat", cache / f"dlib-{digest}.seconds"
    if model_file.exists() and seconds_file.exists():
        print(
            f"dlib shape predictor: trained on these {len(X)} crops before, read from {model_file}",
            flush=True,
        )
        predictor.predictor_ = dlib.shape_predictor(str(model_file))
        predictor.box_ = predictor.box_for(X)
        return predictor, float(seconds_file.read_text())
    print(f"dlib shape predictor: training on {len(X)} crops ...", flush=True)
    tic = time.perf_counter()
    predictor.fit(X, y)
    seconds = time.perf_counter() - tic
    cache.mkdir(parents=True, exist_ok=True)
    predictor.predictor_.save(str(model_file))
    seconds_file.write_text(f"{seconds:.1f}\n")
    return predictor, seconds


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


def run_suite(data, quick, results_dir):
    """The ``wild`` suite of benchmarks/accuracy.py: on the held-out part of every source and
    pooled over the 300-W sources, the recipe (the shipped landmarker, which
    ``make pretrained`` trains on exactly these training parts), the current default
    (FaceLandmarker with a default FacialKeypointRegressor, trained on the four training
    parts without mirror images), PCA + ridge and dlib's shape predictor (trained on the
    recipe's training set), in one run."""
    from _sources import SOURCES, TITLES, split_source

    from skfkd import load_pretrained
    from skfkd.baselines import make_pca_ridge
    from skfkd.faces import FaceLandmarker
    from skfkd.neural import FacialKeypointRegressor

    splits = {name: split_source(data, name, quick) for name in SOURCES}
    photos, keypoints, X, y = training_set({name: train for name, (train, _) in splits.items()})
    plain_photos = [photo for train, _ in splits.values() for photo in train.photos]
    plain_keypoints = np.concatenate([train.keypoints for train, _ in splits.values()])
    epochs = {"max_epochs": 3} if quick else {}
    recipe = load_pretrained()
    fit_seconds = {"recipe: the shipped landmarker": float(np.sum(recipe.regressor_.history_[:, "dur"]))}
    landmarkers = {"recipe: the shipped landmarker": recipe}
    candidates = {
        "current default (no mirror images)": (
            FaceLandmarker(
                FacialKeypointRegressor(random_state=0, verbose=1, **epochs), random_state=0, verbose=1
            ),
            plain_photos,
            plain_keypoints,
        ),
        "PCA + ridge": (FaceLandmarker(make_pca_ridge(random_state=0), random_state=0), photos, keypoints),
    }
    for name, (landmarker, train_photos, train_keypoints) in candidates.items():
        print(f"{name}: training on {len(train_photos)} faces ...", flush=True)
        tic = time.perf_counter()
        landmarkers[name] = landmarker.fit(train_photos, train_keypoints)
        fit_seconds[name] = time.perf_counter() - tic
    dlib, fit_seconds[DLIB] = (None, None) if quick else train_dlib(X, y)
    per_source = {name: predictions(landmarkers, dlib, held_out) for name, (_, held_out) in splits.items()}
    results = {TITLES[name]: score_table(found) for name, found in per_source.items()}
    results[POOLED] = score_table(pooled(per_source))
    fits = [f"- {name}: fit {seconds:.0f} s" for name, seconds in fit_seconds.items() if seconds is not None]
    out = results_dir / f"accuracy_wild{'_quick' if quick else ''}.md"
    notes = [
        "- held-out parts: benchmarks/_sources.py (YouTube by identity, LFPW/HELEN/AFW by photo, seed 0)",
        "- the recipe's fit time: the sum of its regressor's epoch durations (from its history)",
        *fits,
    ]
    write_report(out, "# Accuracy on photos in the wild" + (" (quick)" if quick else ""), notes, results)


def write_report(path, title, notes, results):
    """The figures as Markdown tables (machine, versions, date, command first) and their
    CED curves in a PNG beside."""
    path.write_text("\n".join([title, "", *environment_lines(), *notes, "", *figure_tables(results)]) + "\n")
    panels = {
        source: {f"{model}: {framing}": r["ced"] for (model, framing), r in rows.items()}
        for source, rows in results.items()
    }
    plot_ced_panels(panels, path.with_suffix(".png"))
    print(f"wrote {path}")
