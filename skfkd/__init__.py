"""skfkd: facial keypoint detection with the scikit-learn API."""

from skfkd._layout import IBUG_68, KAGGLE_15, KeypointLayout, to_keypoints, to_targets

__version__ = "0.1.0.dev0"

__all__ = [
    "IBUG_68",
    "KAGGLE_15",
    "FacialKeypointRegressor",
    "KeypointLayout",
    "load_pretrained",
    "to_keypoints",
    "to_targets",
    "__version__",
]


def __getattr__(name):
    # The regressor needs torch, which takes seconds to import; load it on first use so
    # that the datasets, metrics and baselines stay quick to import without it.
    if name == "FacialKeypointRegressor":
        from skfkd.neural import FacialKeypointRegressor

        return FacialKeypointRegressor
    if name == "load_pretrained":
        from skfkd.faces import load_pretrained

        return load_pretrained
    raise AttributeError(f"module 'skfkd' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
