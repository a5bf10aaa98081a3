import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from skfkd.baselines import HOGFeatures, MaskedMultiOutputRegressor, MeanKeypointRegressor, make_pca_ridge
from skfkd.baselines._pipelines import _center_and_normalize_images
from skfkd.datasets import make_faces
from skfkd.metrics import nme_scorer, normalized_mean_error


@pytest.fixture(scope="module")
def faces():
    """Small synthetic faces, 20% of keypoints unannotated, and a clean test set."""
    train = make_faces(300, image_size=48, missing_rate=0.2, random_state=0)
    test = make_faces(100, image_size=48, random_state=1)
    return train.data, train.target, test.data, test.target


def test_steps_are_named_for_tuning():
    model = make_pca_ridge(n_components=20, alpha=3.0, random_state=0)
    assert [name for name, _ in model.steps] == ["scale", "pca", "ridge"]
    params = model.get_params()
    assert params["pca__n_components"] == 20
    assert params["ridge__estimator__alpha"] == 3.0
    assert params["pca__random_state"] == 0


def test_baselines_learn_from_partially_annotated_faces(faces):
    X, y, X_test, y_test = faces
    assert np.isnan(y).any()
    with pytest.warns(UserWarning, match="faces left out of the NME"):
        pass_through = normalized_mean_error(y, y)  # some training faces miss an eye
    assert pass_through == 0
    mean_nme = normalized_mean_error(y_test, MeanKeypointRegressor().fit(X, y).predict(X_test))
    pca_nme = normalized_mean_error(
        y_test, make_pca_ridge(n_components=80, random_state=0).fit(X, y).predict(X_test)
    )
    hog_model = make_pipeline(HOGFeatures(), MaskedMultiOutputRegressor(Ridge(alpha=10)))
    hog_nme = normalized_mean_error(y_test, hog_model.fit(X, y).predict(X_test))
    # Looking at the pixels must beat the mean shape, and gradients beat raw pixels
    # (about 0.25, 0.22 and 0.14 here).
    assert hog_nme < 0.7 * mean_nme
    assert hog_nme < pca_nme < 0.93 * mean_nme


def test_brightness_and_contrast_do_not_change_predictions(faces):
    X, y, X_test, _ = faces
    model = make_pca_ridge(n_components=30, random_state=0).fit(X, y)
    relit = 0.5 * X_test.astype(float) + 40.0
    np.testing.assert_allclose(model.predict(relit), model.predict(X_test), atol=1e-6)


def test_images_are_centered_and_normalized():
    X = np.array([[0.0, 2.0, 4.0, 6.0], [5.0, 5.0, 5.0, 5.0]])
    Z = _center_and_normalize_images(X)
    np.testing.assert_allclose(Z[0], np.array([-3.0, -1.0, 1.0, 3.0]) / np.sqrt(20))
    np.testing.assert_array_equal(Z[1], 0.0)  # a flat image has nothing to normalise


def test_grid_search_with_the_nme_scorer(faces):
    X, y, _, _ = faces
    grid = GridSearchCV(
        make_pca_ridge(random_state=0),
        {"pca__n_components": [5, 40], "ridge__estimator__alpha": [0.3, 1000.0]},
        scoring=nme_scorer,
        cv=KFold(2),
    )
    with pytest.warns(UserWarning, match="faces left out of the NME"):
        grid.fit(X, y)
    assert grid.best_params_ == {"pca__n_components": 40, "ridge__estimator__alpha": 0.3}
    assert -0.5 < grid.best_score_ < 0


def test_random_state_makes_fits_reproducible(faces):
    X, y, X_test, _ = faces
    first = make_pca_ridge(n_components=30, random_state=3).fit(X, y).predict(X_test)
    second = make_pca_ridge(n_components=30, random_state=3).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(first, second)
