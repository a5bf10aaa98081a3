"""Fit any scikit-learn regressor on partially annotated (NaN) targets."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    has_fit_parameter,
    validate_data,
)

from skfkd.baselines._base import MaskedR2ScoreMixin, check_keypoint_targets


class MaskedMultiOutputRegressor(MaskedR2ScoreMixin, MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit a regressor per target column on the rows where that column is annotated.

    scikit-learn's regressors refuse NaN in ``y``, yet keypoint data is usually partially
    annotated (in the Kaggle set, 70% of the rows annotate only 4 of the 15 keypoints).
    Dropping every incomplete row would waste most of the data, and filling the gaps
    would teach the model made-up positions; this meta-estimator instead trains each
    target column on exactly the rows that annotate it.

    Columns annotated on exactly the same rows (the x and y of a keypoint always are, and
    in the Kaggle set so are whole groups of keypoints) share a single multi-output fit
    when ``group_by_mask=True`` and ``estimator`` supports multi-output targets. For
    estimators whose multi-output fit is a set of independent fits, such as linear
    models and nearest neighbours, this only saves time (the Kaggle data needs a handful
    of fits instead of 30); for others, such as trees, it makes the grouped columns share
    one model. Set ``group_by_mask=False`` for one fit per column whatever the estimator.

    Parameters
    ----------
    estimator : regressor
        The regressor to clone and fit; it needs ``fit`` and ``predict``.
    group_by_mask : bool, default=True
        Fit one multi-output clone per distinct annotation mask rather than one clone per
        column. Ignored (one clone per column) when ``estimator`` does not declare
        multi-output support in its scikit-learn tags.

    Attributes
    ----------
    estimators_ : list of regressors
        The fitted clones, one per group of columns in ``target_groups_``.
    target_groups_ : list of ndarray of int
        ``target_groups_[i]`` holds the target columns that ``estimators_[i]`` was fit on
        and predicts, in order.
    n_outputs_ : int
        Number of target columns.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    sklearn.multioutput.MultiOutputRegressor : One fit per column, on every row, no NaN.

    Notes
    -----
    ``score`` is R² over the annotated coordinates only, because
    :func:`sklearn.metrics.r2_score` refuses NaN targets; pass
    ``scoring=skfkd.metrics.nme_scorer`` or ``rmse_scorer`` to model selection for
    keypoint errors.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skfkd.baselines import MaskedMultiOutputRegressor
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([[0.0, 1.0, 5.0], [2.0, 2.0, np.nan], [4.0, 3.0, 5.0], [6.0, 4.0, np.nan]])
    >>> model = MaskedMultiOutputRegressor(LinearRegression()).fit(X, y)
    >>> [group.tolist() for group in model.target_groups_]  # columns 0 and 1 share a fit
    [[0, 1], [2]]
    >>> model.predict([[4.0]]).round(6)
    array([[8., 5., 5.]])
    """

    def __init__(self, estimator, *, group_by_mask=True):
        self.estimator = estimator
        self.group_by_mask = group_by_mask

    def _validate_X(self, X, reset):
        inner_tags = get_tags(self.estimator).input_tags
        return validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=("csr", "csc") if inner_tags.sparse else False,
            ensure_all_finite="allow-nan" if inner_tags.allow_nan else True,
        )

    def _target_groups(self, annotated):
        """Column indices grouped by identical annotation mask, in order of first column."""
        n_outputs = annotated.shape[1]
        if not (self.group_by_mask and get_tags(self.estimator).target_tags.multi_output):
            return [np.array([column]) for column in range(n_outputs)]
        _, first_column, group_of_column = np.unique(
            annotated.T, axis=0, return_index=True, return_inverse=True
        )
        return [np.flatnonzero(group_of_column == group) for group in np.argsort(first_column)]

    def fit(self, X, y, sample_weight=None):
        """Fit one clone of ``estimator`` per annotation mask (or per column).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training inputs; sparse only if ``estimator`` accepts it.
        y : array-like of shape (n_samples, n_outputs)
            Targets, NaN where not annotated. Every column needs an annotated row.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed, restricted to the annotated rows, to each clone's ``fit``; only
            if ``estimator`` accepts sample weights.

        Returns
        -------
        self : MaskedMultiOutputRegressor
            The fitted estimator.
        """
        for method in ("fit", "predict"):
            if not hasattr(self.estimator, method):
                raise TypeError(f"estimator must be a regressor with {method}(); got {self.estimator!r}")
        if sample_weight is not None and not has_fit_parameter(self.estimator, "sample_weight"):
            raise ValueError(f"{type(self.estimator).__name__} does not support sample_weight")
        X = self._validate_X(X, reset=True)
        y = check_keypoint_targets(y, X, estimator_name=type(self).__name__)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        annotated = ~np.isnan(y)

        self.target_groups_ = self._target_groups(annotated)
        self.estimators_ = []
        for columns in self.target_groups_:
            rows = annotated[:, columns[0]]
            # A lone column goes in 1-D: some regressors warn about (n, 1) targets.
            targets = y[rows][:, columns] if columns.size > 1 else y[rows, columns[0]]
            fit_params = {} if sample_weight is None else {"sample_weight": sample_weight[rows]}
            self.estimators_.append(clone(self.estimator).fit(X[rows], targets, **fit_params))
        self.n_outputs_ = y.shape[1]
        return self

    def predict(self, X):
        """Predict every target column with the clone fit on it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs with as many features as at :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_outputs)
            Predictions for every column, annotated in training or not.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        y_pred = np.empty((X.shape[0], self.n_outputs_))
        for estimator, columns in zip(self.estimators_, self.target_groups_):
            y_pred[:, columns] = np.asarray(estimator.predict(X)).reshape(X.shape[0], columns.size)
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        # Keypoints are always 2-D, so 1-D y is refused rather than guessed at.
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        return tags
