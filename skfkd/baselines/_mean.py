"""The mean-shape baseline: predicts the same keypoints for every image."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from skfkd.baselines._base import MaskedR2ScoreMixin, check_keypoint_targets


class MeanKeypointRegressor(MaskedR2ScoreMixin, RegressorMixin, BaseEstimator):
    """Predict the mean shape: the average of each target column over annotated rows.

    The floor every keypoint model must beat. Unannotated (NaN) coordinates are left out
    of each column's mean, so partially annotated data such as the Kaggle set can be used
    as is. The images ``X`` are validated but otherwise ignored. It has no parameters.

    Attributes
    ----------
    mean_ : ndarray of shape (n_outputs,)
        The (weighted) mean of each target column over its annotated rows.
    n_features_in_ : int
        Number of features (pixels) seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    MaskedMultiOutputRegressor : Fit any regressor on partially annotated targets.

    Notes
    -----
    ``score`` is R² over the annotated coordinates only, because
    :func:`sklearn.metrics.r2_score` refuses NaN targets; pass
    ``scoring=skfkd.metrics.nme_scorer`` or ``rmse_scorer`` to model selection for
    keypoint errors.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.baselines import MeanKeypointRegressor
    >>> X = np.zeros((3, 4))
    >>> y = np.array([[10.0, 20.0], [12.0, np.nan], [14.0, 30.0]])
    >>> model = MeanKeypointRegressor().fit(X, y)
    >>> model.mean_
    array([12., 25.])
    >>> model.predict(np.zeros((2, 4)))
    array([[12., 25.],
           [12., 25.]])
    """

    def fit(self, X, y, sample_weight=None):
        """Compute the mean of each target column over its annotated rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images, one per row; only their number and width are used.
        y : array-like of shape (n_samples, n_outputs)
            Targets, such as keypoints ``(n_samples, 2 * n_keypoints)``; NaN where not
            annotated. Every column needs at least one annotated row.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the means.

        Returns
        -------
        self : MeanKeypointRegressor
            The fitted estimator.
        """
        X = validate_data(self, X, accept_sparse=True, reset=True)
        y = check_keypoint_targets(y, X, estimator_name=type(self).__name__)
        weight = _check_sample_weight(sample_weight, X)
        annotated_weight = np.where(np.isnan(y), 0.0, weight[:, None])
        total_weight = annotated_weight.sum(axis=0)
        if np.any(total_weight <= 0):
            column = int(np.flatnonzero(total_weight <= 0)[0])
            raise ValueError(f"column {column} of y has no annotated row with a positive sample weight")
        self.mean_ = np.sum(annotated_weight * np.nan_to_num(y), axis=0) / total_weight
        return self

    def predict(self, X):
        """Predict the mean shape for every image.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images with as many pixels as at :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_outputs)
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=True, reset=False)
        return np.tile(self.mean_, (X.shape[0], 1))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # It ignores X by design, so the checks must not expect a good fit.
        tags.regressor_tags.poor_score = True
        # Keypoints are always 2-D, so 1-D y is refused rather than guessed at.
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        return tags
