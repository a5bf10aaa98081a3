"""skfkd: facial keypoint detection with the scikit-learn API."""

from skfkd._layout import IBUG_68, KAGGLE_15, KeypointLayout, to_keypoints, to_targets

__version__ = "0.1.0.dev0"

__all__ = [
    "IBUG_68",
    "KAGGLE_15",
    "KeypointLayout",
    "to_keypoints",
    "to_targets",
    "__version__",
]
