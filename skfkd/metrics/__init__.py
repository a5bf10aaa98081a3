"""Keypoint error metrics; unannotated (NaN) coordinates are ignored, never scored as zero.

The scorers ``rmse_scorer`` and ``nme_scorer`` return the *negated* error, like
scikit-learn's ``neg_*`` scorers, because model selection maximises its score.
"""

from skfkd.metrics._keypoint import (
    ced_auc,
    ced_curve,
    failure_rate,
    keypoint_r2_score,
    keypoint_rmse,
    nme_scorer,
    normalized_mean_error,
    per_keypoint_error,
    rmse_scorer,
)

__all__ = [
    "ced_auc",
    "ced_curve",
    "failure_rate",
    "keypoint_r2_score",
    "keypoint_rmse",
    "nme_scorer",
    "normalized_mean_error",
    "per_keypoint_error",
    "rmse_scorer",
]
