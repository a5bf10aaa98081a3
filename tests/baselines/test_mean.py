import numpy as np
import pytest
from sklearn.metrics import r2_score

from skfkd.baselines import MeanKeypointRegressor


def test_predicts_the_nan_aware_column_means():
    y = np.array([[10.0, 20.0, np.nan], [14.0, np.nan, 5.0], [12.0, 30.0, 7.0]])
    model = MeanKeypointRegressor().fit(np.zeros((3, 4)), y)
    np.testing.assert_allclose(model.mean_, [12.0, 25.0, 6.0])
    np.testing.assert_allclose(model.predict(np.ones((2, 4))), [[12.0, 25.0, 6.0]] * 2)
    assert model.n_features_in_ == 4


def test_sample_weight_weighs_only_annotated_rows():
    y = np.array([[0.0, np.nan], [10.0, 4.0], [20.0, 8.0]])
    model = MeanKeypointRegressor().fit(np.zeros((3, 1)), y, sample_weight=[1.0, 1.0, 3.0])
    np.testing.assert_allclose(model.mean_, [(0 + 10 + 60) / 5, (4 + 24) / 4])


def test_an_unannotated_column_is_named():
    y = np.array([[1.0, np.nan, 2.0], [3.0, np.nan, 4.0]])
    with pytest.raises(ValueError, match=r"column 1 of y has no annotated"):
        MeanKeypointRegressor().fit(np.zeros((2, 2)), y)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(y, columns=["nose_x", "nose_y", "chin_x"])
    with pytest.raises(ValueError, match=r"column 1 \('nose_y'\) of y"):
        MeanKeypointRegressor().fit(np.zeros((2, 2)), frame)


def test_targets_must_be_2d_and_finite_or_nan():
    with pytest.raises(ValueError, match="needs 2-D targets"):
        MeanKeypointRegressor().fit(np.zeros((2, 2)), [1.0, 2.0])
    with pytest.raises(ValueError, match="infinity"):
        MeanKeypointRegressor().fit(np.zeros((2, 2)), [[1.0], [np.inf]])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MeanKeypointRegressor().fit(np.zeros((3, 2)), [[1.0], [2.0]])


def test_score_is_r2_over_annotated_coordinates():
    rng = np.random.default_rng(0)
    X, y = rng.random((8, 3)), rng.random((8, 4))
    model = MeanKeypointRegressor().fit(X, y)
    # Without NaN, exactly RegressorMixin's R²; the training mean scores 0 on its own data.
    assert model.score(X, y) == pytest.approx(r2_score(y, model.predict(X)))
    assert model.score(X, y) == pytest.approx(0.0)
    y_missing = y.copy()
    y_missing[:4, 0] = np.nan
    # Column 0 is scored on rows 4-7 only, against a mean taken over all 8 rows; the
    # other columns still score 0.
    first_column = r2_score(y[4:, 0], np.full(4, model.mean_[0]))
    assert first_column < 0
    assert model.score(X, y_missing) == pytest.approx(first_column / 4)
