"""Validation and scoring shared by the baseline regressors."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array, check_consistent_length

from skfkd.metrics import keypoint_r2_score


def check_keypoint_targets(y, X, *, estimator_name):
    """Return ``y`` as a 2-D float array that may hold NaN (unannotated coordinates).

    scikit-learn's own target validation refuses NaN, which is why the baselines check
    ``y`` here. A column without a single annotated row cannot be learned, so it is an
    error that names the column (by its DataFrame label when there is one).
    """
    if y is None:
        raise ValueError(f"{estimator_name} requires y to be passed, but the target y is None")
    column_labels = list(y.columns) if hasattr(y, "columns") else None
    y = check_array(y, ensure_all_finite="allow-nan", ensure_2d=False, dtype=np.float64, input_name="y")
    if y.ndim != 2:
        raise ValueError(
            f"{estimator_name} needs 2-D targets of shape (n_samples, n_outputs), such as keypoints "
            f"(n_samples, 2 * n_keypoints); got shape {y.shape}. Reshape a single target with y.reshape(-1, 1)."
        )
    check_consistent_length(X, y)
    empty = np.flatnonzero(np.isnan(y).all(axis=0))
    if empty.size:
        column = int(empty[0])
        label = f" ({column_labels[column]!r})" if column_labels is not None else ""
        raise ValueError(
            f"column {column}{label} of y has no annotated (non-NaN) value, so {estimator_name} cannot "
            f"learn it; {empty.size} column(s) are empty in all: {empty.tolist()}"
        )
    return y


class MaskedR2ScoreMixin:
    """``score`` as R² over the annotated coordinates only.

    :class:`sklearn.base.RegressorMixin` scores with :func:`sklearn.metrics.r2_score`,
    which refuses NaN targets; partially annotated keypoints are the norm, so these
    regressors score each target column on its annotated rows instead.
    """

    def score(self, X, y, sample_weight=None):
        """R² of the predictions over the annotated (non-NaN) coordinates of ``y``.

        Each target column is scored on the rows where it is annotated and the columns
        are averaged uniformly (see :func:`skfkd.metrics.keypoint_r2_score`); without
        NaN this is exactly :meth:`sklearn.base.RegressorMixin.score`. For keypoint
        errors in pixels or as NME, use ``skfkd.metrics.rmse_scorer`` or ``nme_scorer``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples, n_outputs)
            True targets, NaN where not annotated.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        return keypoint_r2_score(y, self.predict(X), sample_weight=sample_weight)
