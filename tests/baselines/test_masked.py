import numpy as np
import pytest
from scipy import sparse
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.svm import SVR

from skfkd.baselines import MaskedMultiOutputRegressor, MeanKeypointRegressor


def _kaggle_like(n=60, seed=0):
    """Linear targets where 70% of the rows annotate only the first 4 keypoints (8 columns),
    like the Kaggle training set, and one extra column is missing on a few rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = X @ rng.normal(size=(6, 30)) + rng.normal(scale=0.1, size=(n, 30))
    y[: int(0.7 * n), 8:] = np.nan
    y[-3:, 28:] = np.nan  # the last keypoint: a third annotation pattern
    return X, y


@pytest.mark.parametrize("group_by_mask", [True, False])
def test_each_column_is_fit_on_its_annotated_rows(group_by_mask):
    X, y = _kaggle_like()
    model = MaskedMultiOutputRegressor(Ridge(alpha=0.5), group_by_mask=group_by_mask).fit(X, y)
    X_new = np.random.default_rng(1).normal(size=(5, 6))
    for column in range(y.shape[1]):
        rows = ~np.isnan(y[:, column])
        reference = Ridge(alpha=0.5).fit(X[rows], y[rows, column])
        np.testing.assert_allclose(model.predict(X_new)[:, column], reference.predict(X_new), rtol=1e-10)


def test_columns_with_one_annotation_mask_share_one_fit():
    X, y = _kaggle_like()
    model = MaskedMultiOutputRegressor(Ridge()).fit(X, y)
    groups = [group.tolist() for group in model.target_groups_]
    assert groups == [list(range(8)), list(range(8, 28)), [28, 29]]
    assert len(model.estimators_) == 3
    assert model.n_outputs_ == 30

    per_column = MaskedMultiOutputRegressor(Ridge(), group_by_mask=False).fit(X, y)
    assert [group.tolist() for group in per_column.target_groups_] == [[j] for j in range(30)]
    assert len(per_column.estimators_) == 30


def test_single_output_estimators_get_one_fit_per_column():
    X, y = _kaggle_like(n=30)
    model = MaskedMultiOutputRegressor(SVR()).fit(X, y[:, :4])
    assert len(model.estimators_) == 4
    assert model.predict(X).shape == (30, 4)


def test_fits_see_only_annotated_rows():
    # A mean regressor in the wrapper must give the NaN-aware column means.
    X, y = _kaggle_like()
    wrapped = MaskedMultiOutputRegressor(DummyRegressor()).fit(X, y)
    np.testing.assert_allclose(wrapped.predict(X[:2]), MeanKeypointRegressor().fit(X, y).predict(X[:2]))


def test_sample_weight_reaches_each_fit_restricted_to_its_rows():
    X, y = _kaggle_like()
    weight = np.random.default_rng(2).uniform(0.5, 2.0, size=len(X))
    model = MaskedMultiOutputRegressor(LinearRegression()).fit(X, y, sample_weight=weight)
    rows = ~np.isnan(y[:, 10])
    reference = LinearRegression().fit(X[rows], y[rows, 10], sample_weight=weight[rows])
    np.testing.assert_allclose(model.predict(X)[:, 10], reference.predict(X))
    with pytest.raises(ValueError, match="does not support sample_weight"):
        MaskedMultiOutputRegressor(_NoWeights()).fit(X, y, sample_weight=weight)


class _NoWeights(DummyRegressor):
    def fit(self, X, y):
        return super().fit(X, y)


def test_an_unannotated_column_is_named():
    X, y = _kaggle_like()
    y[:, 17] = np.nan
    with pytest.raises(ValueError, match="column 17 of y has no annotated"):
        MaskedMultiOutputRegressor(Ridge()).fit(X, y)


def test_estimator_must_be_a_regressor():
    with pytest.raises(TypeError, match="with predict"):
        MaskedMultiOutputRegressor(object.__new__(_FitOnly)).fit(np.zeros((3, 2)), np.zeros((3, 2)))


class _FitOnly:
    def fit(self, X, y):
        return self


def test_input_capabilities_follow_the_estimator():
    X, y = _kaggle_like()
    sparse_model = MaskedMultiOutputRegressor(Ridge()).fit(sparse.csr_matrix(X), y)
    dense_model = MaskedMultiOutputRegressor(Ridge()).fit(X, y)
    # Ridge solves sparse input iteratively, hence the loose tolerance.
    np.testing.assert_allclose(sparse_model.predict(sparse.csr_matrix(X)), dense_model.predict(X), atol=1e-2)

    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MaskedMultiOutputRegressor(Ridge()).fit(X_nan, y)
    # HistGradientBoosting handles missing pixels itself, so the wrapper lets them through.
    model = MaskedMultiOutputRegressor(HistGradientBoostingRegressor(max_iter=5)).fit(X_nan, y[:, :2])
    assert np.isfinite(model.predict(X_nan)).all()


def test_predict_checks_the_number_of_features():
    X, y = _kaggle_like()
    model = MaskedMultiOutputRegressor(Ridge()).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features"):
        model.predict(X[:, :5])
