"""The ``skfkd`` command line (also ``python -m skfkd``)."""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


def _load_demo_data(args):
    """Train/test arrays for the demo, split so the test faces are unseen."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    from skfkd.datasets import load_kaggle_facial_keypoints, load_youtube_faces, make_faces

    if args.data == "synthetic":
        X, y = make_faces(args.n_samples, random_state=args.random_state, return_X_y=True)
        return train_test_split(X, y, test_size=0.2, random_state=args.random_state)
    if args.data == "youtube":
        faces = load_youtube_faces(args.path)
        # Hold out whole people: frames of one person are near-duplicates of each other.
        split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=args.random_state)
        train, test = next(split.split(faces.data, faces.target, faces.identities))
        return faces.data[train], faces.data[test], faces.target[train], faces.target[test]
    faces = load_kaggle_facial_keypoints(args.path)
    return train_test_split(faces.data, faces.target, test_size=0.2, random_state=args.random_state)


def _demo_models(args):
    from skfkd.baselines import MeanKeypointRegressor, make_pca_ridge
    from skfkd.neural import FacialKeypointRegressor

    return {
        "mean shape": MeanKeypointRegressor(),
        "PCA + ridge": make_pca_ridge(random_state=args.random_state),
        "FacialKeypointRegressor": FacialKeypointRegressor(
            max_epochs=args.max_epochs, random_state=args.random_state, verbose=1
        ),
    }


def _demo(args):
    from skfkd.metrics import failure_rate, keypoint_rmse, normalized_mean_error

    started = time.perf_counter()
    print(f"Loading {args.data} faces ...", flush=True)
    X_train, X_test, y_train, y_test = _load_demo_data(args)
    print(f"  {len(X_train)} training and {len(X_test)} test faces ({time.perf_counter() - started:.1f} s)")
    rows = []
    for name, model in _demo_models(args).items():
        print(f"Training {name} ...", flush=True)
        tic = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - tic
        y_pred = model.predict(X_test)
        rows.append(
            (
                name,
                keypoint_rmse(y_test, y_pred),
                normalized_mean_error(y_test, y_pred),
                failure_rate(y_test, y_pred),
                seconds,
            )
        )
    print(f"\nHeld-out errors on {len(X_test)} {args.data} faces (lower is better)")
    print(f"{'model':<24}{'RMSE (px)':>10}{'NME':>8}{'failures':>10}{'fit time':>10}")
    for name, rmse, nme, failures, seconds in rows:
        print(f"{name:<24}{rmse:>10.2f}{nme:>8.1%}{failures:>10.1%}{seconds:>9.1f}s")
    return 0


def _parser():
    parser = argparse.ArgumentParser(
        prog="skfkd", description="Facial keypoint detection with the scikit-learn API."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="train and evaluate on held-out faces",
        description="Train the models on synthetic faces (or real ones from --path) and print held-out errors.",
    )
    demo.add_argument("--data", choices=["synthetic", "youtube", "kaggle"], default="synthetic")
    demo.add_argument(
        "--path", default=None, help="folder or file of the youtube/kaggle data (default: SKFKD_DATA)"
    )
    demo.add_argument("--n-samples", type=int, default=3000, help="number of synthetic faces (default: 3000)")
    demo.add_argument("--max-epochs", type=int, default=60, help="CNN training epochs at most (default: 60)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(handler=_demo)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.data != "synthetic" and args.path is None:
        from skfkd.datasets import get_data_home

        folder = {"youtube": "youtube_faces_68", "kaggle": "kaggle_facial_keypoints"}[args.data]
        args.path = get_data_home() / folder
    try:
        return args.handler(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"skfkd: error: {error}", file=sys.stderr)
        return 2
