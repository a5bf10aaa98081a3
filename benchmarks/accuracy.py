"""Accuracy of skfkd's models side by side, on held-out real faces and on synthetic faces.

Real faces: ``load_youtube_faces`` with 20% of the identities held out
(``GroupShuffleSplit(test_size=0.2, random_state=0)``); the models see 96x96 crops. NME is
the mean point error over the outer inter-ocular distance, per face, averaged; it is the
same in crop and photo pixels, since a crop is a uniform scaling of the photo. Synthetic:
``make_faces`` (KAGGLE_15), 3000 training and 600 test faces.

Usage::

    python benchmarks/accuracy.py                 # everything, tens of minutes on a CPU
    python benchmarks/accuracy.py --quick         # reduced, a few minutes
    python benchmarks/accuracy.py --suite augmentation   # CNN variants only
    python benchmarks/accuracy.py --suite mixed   # YouTube alone vs YouTube + LFPW
    python benchmarks/accuracy.py --suite wild    # all four photo sources: recipe, default, PCA + ridge, dlib

The ``mixed`` suite trains on the YouTube training identities alone and on those plus 80%
of the LFPW photos (``load_landmark_folder``, split by file with ``ShuffleSplit``, seed 0),
and evaluates each model on the held-out YouTube identities and the held-out 20% of LFPW.

Writes ``benchmarks/results/accuracy*.md`` and a CED plot beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, GroupShuffleSplit, ShuffleSplit
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment_lines, markdown_table, plot_ced_panels  # noqa: E402

from skfkd import FacialKeypointRegressor  # noqa: E402
from skfkd.augmentation import KeypointAugmenter  # noqa: E402
from skfkd.baselines import HOGFeatures, MaskedMultiOutputRegressor, MeanKeypointRegressor, make_pca_ridge  # noqa: E402
from skfkd.datasets import get_data_home, load_landmark_folder, load_youtube_faces, make_faces  # noqa: E402
from skfkd.metrics import ced_auc, ced_curve, failure_rate, keypoint_rmse, normalized_mean_error  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _pca_ridge(quick, groups):
    grid = {"pca__n_components": [50, 100, 200], "ridge__estimator__alpha": [0.1, 1.0, 10.0]}
    if quick:
        grid = {"pca__n_components": [50, 100], "ridge__estimator__alpha": [1.0]}
    return GridSearchCV(make_pca_ridge(random_state=0), grid, cv=GroupKFold(3)), {"groups": groups}


def _cnn(options, **params):
    if options.epochs:
        params.setdefault("max_epochs", options.epochs)
    elif options.quick:
        params.setdefault("max_epochs", 6)
    return FacialKeypointRegressor(random_state=0, **params), {}


AUGMENTATIONS = {
    "none": None,
    "flip": dict(rotation=0, scale=(1, 1), shift=0, flip=0.5, brightness=0, contrast=0, noise=0),
    "affine": dict(rotation=15, scale=(0.9, 1.1), shift=0.05, flip=0, brightness=0, contrast=0, noise=0),
    "photometric": dict(rotation=0, scale=(1, 1), shift=0, flip=0, brightness=0.2, contrast=0.2, noise=0.05),
    "all": {},
}


def _has_dlib():
    try:
        import dlib  # noqa: F401
    except ImportError:
        return False
    return True


def methods(options, groups):
    """Name -> (estimator, fit keyword arguments), built fresh for each dataset."""
    if options.suite == "main":
        yield "mean shape", (MeanKeypointRegressor(), {})
        yield "PCA + ridge (grid search)", _pca_ridge(options.quick, groups)
        yield "HOG + ridge", (make_pipeline(HOGFeatures(), MaskedMultiOutputRegressor(Ridge(alpha=60.0))), {})
        if _has_dlib():
            from _peers import DlibShapePredictor

            yield "dlib shape predictor (regression trees)", (DlibShapePredictor(), {})
        yield "FacialKeypointRegressor (default)", _cnn(options)
        yield "FacialKeypointRegressor, autoencoder_weight=0.01", _cnn(options, autoencoder_weight=0.01)
    elif options.suite == "default":
        yield "FacialKeypointRegressor (default)", _cnn(options)
    elif options.suite == "augmentation":
        for name, params in AUGMENTATIONS.items():
            augmenter = None if params is None else KeypointAugmenter(**params)
            yield f"augmentation: {name}", _cnn(options, augmentation=augmenter)
    elif options.suite == "autoencoder":
        for weight in (0.0, 0.01, 0.03, 0.1):
            yield f"autoencoder_weight={weight}", _cnn(options, autoencoder_weight=weight)
    elif options.suite == "loss":
        for loss in ("mse", "smooth_l1", "wing"):
            yield f"keypoint loss: {loss}", _cnn(options, criterion__keypoint_loss=loss)
    else:
        raise ValueError(f"unknown suite {options.suite!r}")


def youtube_split(path, quick):
    faces = load_youtube_faces(path)
    train, test = next(
        GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0).split(
            faces.data, faces.target, faces.identities
        )
    )
    if quick:
        train = train[::3]
    return (faces.data[train], faces.target[train], faces.identities[train]), (
        faces.data[test],
        faces.target[test],
    )


def synthetic_split(quick):
    n_train = 1000 if quick else 3000
    X, y = make_faces(n_train, random_state=0, return_X_y=True)
    X_test, y_test = make_faces(600, random_state=1, return_X_y=True)
    return (X, y, np.arange(n_train) % 10), (X_test, y_test)


def mixed_sources(options, youtube, lfpw):
    """Tables per held-out source: each method trained on YouTube alone and on YouTube + LFPW."""
    (X_yt, y_yt, _), test_yt = youtube_split(youtube, options.quick)
    faces = load_landmark_folder(lfpw)
    train, test = next(ShuffleSplit(n_splits=1, test_size=0.2, random_state=0).split(faces.data))
    if options.quick:
        train = train[::3]
    tests = {
        "held-out YouTube identities (68 points)": test_yt,
        "held-out LFPW photos, 20% by file (68 points)": (faces.data[test], faces.target[test]),
    }
    trainings = {
        "YouTube": (X_yt, y_yt),
        "YouTube + LFPW": (
            np.concatenate([X_yt, faces.data[train]]),
            np.concatenate([y_yt, faces.target[train]]),
        ),
    }
    candidates = {"FacialKeypointRegressor (default)": lambda: _cnn(options)[0]}
    if _has_dlib():
        from _peers import DlibShapePredictor

        candidates["dlib shape predictor (regression trees)"] = DlibShapePredictor
    tables = {title: [] for title in tests}
    for method, make in candidates.items():
        for source, (X, y) in trainings.items():
            name = f"{method}, trained on {source}"
            print(f"  {name}: fitting on {len(X)} faces ...", flush=True)
            estimator = make()
            tic = time.perf_counter()
            estimator.fit(X, y)
            fit_seconds = time.perf_counter() - tic
            for title, test_set in tests.items():
                print(f"    on {title}:", flush=True)
                tables[title].append(_score(name, estimator, fit_seconds, test_set))
    return tables


def evaluate(name, estimator, fit_params, train, test):
    """Rows of figures: one per fitted model, plus its flip-test variant for the CNN."""
    X, y, _ = train
    print(f"  {name}: fitting on {len(X)} faces ...", flush=True)
    tic = time.perf_counter()
    estimator.fit(X, y, **fit_params)
    fit_seconds = time.perf_counter() - tic
    rows = [_score(name, estimator, fit_seconds, test)]
    if isinstance(estimator, FacialKeypointRegressor) and not estimator.flip_test:
        # Flip test-time augmentation needs no retraining: the same weights, mirrored input.
        rows.append(_score(f"{name} + flip_test", estimator.set_params(flip_test=True), fit_seconds, test))
    return rows


def _score(name, estimator, fit_seconds, test):
    X_test, y_test = test
    tic = time.perf_counter()
    y_pred = estimator.predict(X_test)
    throughput = len(X_test) / (time.perf_counter() - tic)
    row = {
        "name": name,
        "nme": normalized_mean_error(y_test, y_pred),
        "failure": failure_rate(y_test, y_pred),
        "auc": ced_auc(y_test, y_pred),
        "rmse": keypoint_rmse(y_test, y_pred),
        "fit": fit_seconds,
        "throughput": throughput,
        "ced": ced_curve(y_test, y_pred),
    }
    print(
        f"    NME {row['nme']:.2%}  failures {row['failure']:.1%}  AUC {row['auc']:.3f}  "
        f"RMSE {row['rmse']:.2f} px  fit {fit_seconds:.0f} s  {throughput:.0f} faces/s",
        flush=True,
    )
    return row


def _rows(results):
    best = min(r["nme"] for r in results)
    return [
        [
            r["name"],
            f"{r['nme']:.2%}",
            f"{r['nme'] / best:.2f}",
            f"{r['failure']:.1%}",
            f"{r['auc']:.3f}",
            f"{r['rmse']:.2f}",
            f"{r['fit']:.0f}",
            f"{r['throughput']:.0f}",
        ]
        for r in results
    ]


def write_report(tables, out, quick):
    header = [
        "method",
        "NME",
        "NME / best",
        "failure rate (NME > 0.08)",
        "AUC@0.08",
        "RMSE (px, 96x96)",
        "fit (s)",
        "predict (faces/s)",
    ]
    lines = [f"# Accuracy{' (quick)' if quick else ''}", "", *environment_lines(), ""]
    for title, results in tables.items():
        lines += [f"## {title}", "", *markdown_table(header, _rows(results)), ""]
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out}")
    plot_ced_panels(
        {title: {r["name"]: r["ced"] for r in results} for title, results in tables.items()},
        out.with_suffix(".png"),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and less data: a few minutes")
    parser.add_argument(
        "--suite",
        choices=["main", "default", "augmentation", "autoencoder", "loss", "mixed", "wild"],
        default="main",
    )
    parser.add_argument("--epochs", type=int, default=None, help="override the regressor's max_epochs")
    parser.add_argument("--youtube", default=None, help="youtube_faces_68 folder (default: SKFKD_DATA)")
    parser.add_argument("--lfpw", default=None, help="lfpw68_train folder (default: SKFKD_DATA)")
    parser.add_argument("--no-synthetic", action="store_true", help="skip the make_faces table")
    parser.add_argument("--no-youtube", action="store_true", help="skip the YouTube Faces table")
    args = parser.parse_args(argv)
    youtube = Path(args.youtube) if args.youtube else get_data_home() / "youtube_faces_68"
    if args.suite == "wild":
        from _wild import run_suite

        run_suite(get_data_home(), args.quick, RESULTS)
        return
    if args.suite == "mixed":
        lfpw = Path(args.lfpw) if args.lfpw else get_data_home() / "lfpw68_train"
        tables = mixed_sources(args, youtube, lfpw)
        write_report(tables, RESULTS / f"accuracy_mixed{'_quick' if args.quick else ''}.md", args.quick)
        return

    datasets = {}
    if args.no_youtube:
        pass
    elif youtube.is_dir():
        datasets["YouTube Faces, held-out identities (68 points)"] = lambda: youtube_split(
            youtube, args.quick
        )
    else:
        print(f"no YouTube faces at {youtube}; set SKFKD_DATA or --youtube", file=sys.stderr)
    if not args.no_synthetic:
        datasets["make_faces (15 points)"] = lambda: synthetic_split(args.quick)
    tables = {}
    for title, load in datasets.items():
        print(f"{title}:", flush=True)
        train, test = load()
        tables[title] = [
            row
            for name, (estimator, fit_params) in methods(args, train[2])
            for row in evaluate(name, estimator, fit_params, train, test)
        ]
    suffix = "" if args.suite == "main" else f"_{args.suite}"
    write_report(tables, RESULTS / f"accuracy{suffix}{'_quick' if args.quick else ''}.md", args.quick)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
