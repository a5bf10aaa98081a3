import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_validate

from skfkd import IBUG_68, KAGGLE_15, KeypointLayout, to_keypoints, to_targets
from skfkd.metrics import (
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

# A two-point layout keeps hand-worked examples small: the eyes are the only keypoints.
EYES = KeypointLayout("eyes", ("left", "right"), flip_pairs=((0, 1),), interocular=(0, 1))


# --- keypoint_rmse -------------------------------------------------------------------


@given(
    hnp.arrays(np.float64, (5, 8), elements=st.floats(-100, 100)),
    hnp.arrays(np.float64, (5, 8), elements=st.floats(-100, 100)),
    hnp.arrays(np.bool_, (5, 8)),
)
def test_rmse_ignores_unannotated_coordinates(y_true, y_pred, missing):
    missing[0, 0] = False  # at least one annotated coordinate
    y_true = np.where(missing, np.nan, y_true)
    expected = np.sqrt(np.mean((y_true[~missing] - y_pred[~missing]) ** 2))
    assert keypoint_rmse(y_true, y_pred) == pytest.approx(expected)
    # Whatever is predicted for an unannotated coordinate does not count.
    assert keypoint_rmse(y_true, np.where(missing, 1e6, y_pred)) == pytest.approx(expected)


def test_rmse_is_in_pixels():
    assert keypoint_rmse([[0.0, 0.0], [0.0, 0.0]], [[3.0, 4.0], [3.0, 4.0]]) == pytest.approx(np.sqrt(12.5))


def test_rmse_errors():
    with pytest.raises(ValueError, match="same shape"):
        keypoint_rmse(np.zeros((2, 4)), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="no annotated coordinate"):
        keypoint_rmse(np.full((2, 4), np.nan), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="finite wherever"):
        keypoint_rmse(np.zeros((1, 2)), [[np.nan, 0.0]])


def test_rmse_checks_an_explicit_layout():
    assert keypoint_rmse(np.zeros((1, 30)), np.ones((1, 30)), layout=KAGGLE_15) == 1.0
    with pytest.raises(ValueError, match="15 keypoints but the targets have 2"):
        keypoint_rmse(np.zeros((1, 4)), np.ones((1, 4)), layout=KAGGLE_15)


# --- hand-worked values ----------------------------------------------------------------


def _kaggle_face(left_eye, right_eye, rng):
    """A 15-point face with the given eye centres and the other points anywhere."""
    points = rng.uniform(0, 96, size=(15, 2))
    points[0], points[1] = left_eye, right_eye
    return points


def test_nme_by_hand_on_kaggle_layout():
    rng = np.random.default_rng(0)
    truth = np.stack([_kaggle_face((30, 40), (60, 40), rng), _kaggle_face((10, 10), (10, 30), rng)])
    pred = truth.copy()
    # Face 0: all 15 points annotated, only the nose tip is off, by a 3-4-5 triangle.
    pred[0, 10] += (3, 4)
    # Face 1: only the eyes, nose tip and bottom lip annotated; the nose is 6 px off.
    truth[1, [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13]] = np.nan
    pred[1, 10] += (0, 6)
    pred[1, 3] = (500.0, -500.0)  # unannotated, so it must not matter
    y_true, y_pred = to_targets(truth), to_targets(pred)

    expected_per_face = [(5 / 15) / 30, (6 / 4) / 20]
    np.testing.assert_allclose(normalized_mean_error(y_true, y_pred, per_face=True), expected_per_face)
    assert normalized_mean_error(y_true, y_pred) == pytest.approx(np.mean(expected_per_face))
    assert normalized_mean_error(y_true, y_pred, layout=KAGGLE_15) == pytest.approx(
        np.mean(expected_per_face)
    )


def test_nme_uses_the_outer_eye_corners_of_ibug_68():
    truth = np.zeros((1, 68, 2))
    truth[0, 36] = (20, 50)
    truth[0, 45] = (70, 50)  # 50 px apart; the eye centres are irrelevant for iBUG
    truth[0, 39] = (40, 50)
    pred = truth + (0.6, 0.8)  # every point 1 px off
    assert normalized_mean_error(to_targets(truth), to_targets(pred)) == pytest.approx(1 / 50)
    assert normalized_mean_error(to_targets(truth), to_targets(pred), layout=IBUG_68) == pytest.approx(1 / 50)


def test_nme_leaves_out_faces_without_an_interocular_distance():
    y_true = np.array(
        [
            [0.0, 0.0, 10.0, 0.0],  # usable
            [0.0, 0.0, np.nan, np.nan],  # one eye missing
            [5.0, 5.0, 5.0, 5.0],  # both eyes on the same pixel
        ]
    )
    y_pred = y_true + 1.0
    y_pred[1, 2:] = 0.0
    with pytest.warns(UserWarning, match="2 of 3 faces left out of the NME"):
        per_face = normalized_mean_error(y_true, y_pred, layout=EYES, per_face=True)
    np.testing.assert_allclose(per_face, [np.sqrt(2) / 10, np.nan, np.nan])
    with pytest.warns(UserWarning, match="2 of 3 faces"):
        assert normalized_mean_error(y_true, y_pred, layout=EYES) == pytest.approx(np.sqrt(2) / 10)
    with pytest.warns(UserWarning, match="2 of 3 faces"):
        assert failure_rate(y_true, y_pred, threshold=0.1, layout=EYES) == 1.0

    with pytest.raises(ValueError, match="no face has a usable inter-ocular distance"):
        normalized_mean_error(y_true[1:], y_pred[1:], layout=EYES)


def test_nme_without_excluded_faces_does_not_warn():
    y_true = np.array([[0.0, 0.0, 10.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalized_mean_error(y_true, y_true + 1, layout=EYES)


def test_failure_rate_ced_and_auc_by_hand():
    y_true = np.tile([0.0, 0.0, 10.0, 0.0], (4, 1))
    # Vertical shifts of both eyes by 0, 0.5, 1 and 2 px give NMEs 0, 0.05, 0.1 and 0.2.
    shifts = np.array([0.0, 0.5, 1.0, 2.0])
    y_pred = y_true + shifts[:, None] * [0, 1, 0, 1]
    np.testing.assert_allclose(
        normalized_mean_error(y_true, y_pred, layout=EYES, per_face=True), [0, 0.05, 0.1, 0.2]
    )

    assert failure_rate(y_true, y_pred, threshold=0.1, layout=EYES) == 0.25  # exactly 0.1 is no failure
    assert failure_rate(y_true, y_pred, threshold=0.04, layout=EYES) == 0.75

    thresholds, fractions = ced_curve(y_true, y_pred, threshold=0.1, n_thresholds=3, layout=EYES)
    np.testing.assert_allclose(thresholds, [0, 0.05, 0.1])
    np.testing.assert_allclose(fractions, [0.25, 0.5, 0.75])

    # Faces add 1 - e/T when below T: (1 + 0.5 + 0 + 0) / 4.
    assert ced_auc(y_true, y_pred, threshold=0.1, layout=EYES) == pytest.approx(0.375)


def test_ced_auc_is_the_limit_of_the_trapezoid_rule():
    rng = np.random.default_rng(1)
    y_true = to_targets(np.stack([_kaggle_face((30, 40), (60, 40), rng) for _ in range(20)]))
    y_pred = y_true + rng.normal(scale=2.0, size=y_true.shape)
    thresholds, fractions = ced_curve(y_true, y_pred, threshold=0.08, n_thresholds=20001)
    trapezoid = np.trapezoid(fractions, thresholds) / 0.08
    assert ced_auc(y_true, y_pred, threshold=0.08) == pytest.approx(trapezoid, abs=1e-3)


def test_per_keypoint_error_by_hand():
    y_true = np.array([[0.0, 0.0, np.nan, np.nan, 1.0, 1.0], [0.0, 0.0, np.nan, np.nan, 1.0, 1.0]])
    y_pred = np.array([[3.0, 4.0, 7.0, 7.0, 1.0, 1.0], [0.0, 1.0, 7.0, 7.0, 1.0, 1.0]])
    np.testing.assert_allclose(per_keypoint_error(y_true, y_pred), [3.0, np.nan, 0.0])


# --- bad input -------------------------------------------------------------------------

ALL_POINT_METRICS = [normalized_mean_error, failure_rate, ced_curve, ced_auc, per_keypoint_error]


@pytest.mark.parametrize("metric", [keypoint_rmse, *ALL_POINT_METRICS])
def test_malformed_targets_are_refused(metric):
    good = np.zeros((2, 30))
    good[:, 2] = 10.0  # a nonzero inter-ocular distance
    with pytest.raises(ValueError, match="same shape"):
        metric(good, good[:1])
    with pytest.raises(ValueError, match="even number of columns"):
        metric(good[:, :29], good[:, :29])
    with pytest.raises(ValueError, match="n_samples, 2 \\* n_keypoints"):
        metric(good[0], good[0])
    with pytest.raises(ValueError, match="at least one sample"):
        metric(good[:0], good[:0])
    with pytest.raises(ValueError, match="68 keypoints but the targets have 15"):
        metric(good, good, layout=IBUG_68)
    with pytest.raises(ValueError, match="finite wherever"):
        metric(good, np.where(good == 10.0, np.nan, good))
    with pytest.raises(ValueError, match="infinite"):
        metric(np.where(good == 10.0, np.inf, good), good)


@pytest.mark.parametrize("metric", ALL_POINT_METRICS)
def test_half_annotated_keypoint_is_refused(metric):
    y_true = np.zeros((1, 30))
    y_true[0, 2] = 10.0
    y_true[0, 21] = np.nan  # the y of keypoint 10 but not its x
    with pytest.raises(ValueError, match="keypoint 10 of sample 0 has one coordinate annotated"):
        metric(y_true, np.zeros((1, 30)))


def test_nme_needs_a_layout_for_an_unknown_width():
    with pytest.raises(ValueError, match="no built-in layout has 3 keypoints"):
        normalized_mean_error(np.zeros((1, 6)), np.zeros((1, 6)))


@pytest.mark.parametrize("threshold", [0, -0.1, "0.08", None, True])
@pytest.mark.parametrize("metric", [failure_rate, ced_curve, ced_auc])
def test_threshold_must_be_positive(metric, threshold):
    y = np.array([[0.0, 0.0, 10.0, 0.0]])
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        metric(y, y, threshold=threshold, layout=EYES)


@pytest.mark.parametrize("n_thresholds", [1, 2.5, None])
def test_n_thresholds_must_be_an_integer_above_one(n_thresholds):
    y = np.array([[0.0, 0.0, 10.0, 0.0]])
    with pytest.raises(ValueError, match="n_thresholds"):
        ced_curve(y, y, n_thresholds=n_thresholds, layout=EYES)


# --- properties --------------------------------------------------------------------------


@st.composite
def kaggle_pairs(draw, max_faces=6):
    """(y_true, y_pred) for 15-point faces, NaN in y_true for unannotated keypoints.

    The eye centres are always annotated and at least 5 px apart, so every face has a
    well-conditioned NME; the other keypoints are annotated at random.
    """
    n = draw(st.integers(1, max_faces))
    coords = st.floats(-100, 100, allow_nan=False)
    truth = draw(hnp.arrays(np.float64, (n, 15, 2), elements=coords))
    angle = draw(hnp.arrays(np.float64, n, elements=st.floats(0, 2 * np.pi)))
    distance = draw(hnp.arrays(np.float64, n, elements=st.floats(5, 60)))
    truth[:, 1] = truth[:, 0] + distance[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    offsets = draw(hnp.arrays(np.float64, (n, 15, 2), elements=st.floats(-10, 10)))
    missing = draw(hnp.arrays(np.bool_, (n, 15)))
    missing[:, :2] = False
    truth[missing] = np.nan
    return to_targets(truth), to_targets(truth + np.nan_to_num(offsets))


def _all_metrics(y_true, y_pred):
    return {
        "rmse": keypoint_rmse(y_true, y_pred),
        "nme": normalized_mean_error(y_true, y_pred, per_face=True),
        "per_keypoint": per_keypoint_error(y_true, y_pred),
        "auc": ced_auc(y_true, y_pred),
    }


def _transform(y, matrix, shift):
    """Apply ``p -> matrix @ p + shift`` to every keypoint; NaN stays NaN."""
    return to_targets(to_keypoints(y) @ np.asarray(matrix).T + shift)


def _assert_metrics_close(actual, expected, scale=None):
    scale = scale or {}
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value * scale.get(name, 1.0), rtol=1e-7, atol=1e-9)


@given(kaggle_pairs(), st.tuples(st.floats(-200, 200), st.floats(-200, 200)))
def test_translation_changes_no_metric(pair, shift):
    y_true, y_pred = pair
    moved = _all_metrics(_transform(y_true, np.eye(2), shift), _transform(y_pred, np.eye(2), shift))
    _assert_metrics_close(moved, _all_metrics(y_true, y_pred))


@given(kaggle_pairs(), st.floats(0.05, 20))
def test_scaling_scales_pixel_errors_but_not_nme(pair, s):
    y_true, y_pred = pair
    scaled = _all_metrics(_transform(y_true, s * np.eye(2), 0), _transform(y_pred, s * np.eye(2), 0))
    _assert_metrics_close(scaled, _all_metrics(y_true, y_pred), scale={"rmse": s, "per_keypoint": s})


@given(kaggle_pairs(), st.floats(-np.pi, np.pi))
def test_rotation_changes_no_point_to_point_metric(pair, angle):
    y_true, y_pred = pair
    rotation = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    original = _all_metrics(y_true, y_pred)
    rotated = _all_metrics(_transform(y_true, rotation, 0), _transform(y_pred, rotation, 0))
    # RMSE is per coordinate, so it changes with rotation; the Euclidean metrics do not.
    del original["rmse"], rotated["rmse"]
    _assert_metrics_close(rotated, original)


@given(kaggle_pairs(), st.sampled_from([np.nan, np.inf, -1e12, 0.0]))
def test_predictions_for_unannotated_points_change_nothing(pair, garbage):
    y_true, y_pred = pair
    scrambled = np.where(np.isnan(y_true), garbage, y_pred)
    _assert_metrics_close(_all_metrics(y_true, scrambled), _all_metrics(y_true, y_pred))


@given(kaggle_pairs())
def test_nme_matches_a_face_by_face_reference(pair):
    y_true, y_pred = pair
    expected = []
    for truth, pred in zip(to_keypoints(y_true), to_keypoints(y_pred)):
        annotated = ~np.isnan(truth[:, 0])
        errors = [np.hypot(*(truth[i] - pred[i])) for i in np.flatnonzero(annotated)]
        expected.append(np.mean(errors) / np.hypot(*(truth[0] - truth[1])))
    np.testing.assert_allclose(normalized_mean_error(y_true, y_pred, per_face=True), expected, rtol=1e-9)


@given(kaggle_pairs(), st.floats(0.001, 1), st.floats(0.001, 1))
def test_failure_rate_does_not_increase_with_the_threshold(pair, t1, t2):
    low, high = sorted((t1, t2))
    assert failure_rate(*pair, threshold=low) >= failure_rate(*pair, threshold=high)


@given(kaggle_pairs(), st.floats(0.001, 1), st.integers(2, 50))
def test_ced_is_nondecreasing_and_ends_at_the_success_rate(pair, threshold, n_thresholds):
    thresholds, fractions = ced_curve(*pair, threshold=threshold, n_thresholds=n_thresholds)
    assert thresholds.shape == fractions.shape == (n_thresholds,)
    assert thresholds[0] == 0 and thresholds[-1] == pytest.approx(threshold)
    assert np.all(np.diff(fractions) >= 0)
    assert fractions[-1] == pytest.approx(1 - failure_rate(*pair, threshold=threshold))
    assert 0 <= ced_auc(*pair, threshold=threshold) <= fractions[-1]


# --- R² ------------------------------------------------------------------------------


@given(
    hnp.arrays(np.float64, (6, 3), elements=st.floats(-100, 100)),
    hnp.arrays(np.float64, (6, 3), elements=st.floats(-100, 100)),
    hnp.arrays(np.float64, 6, elements=st.floats(0.1, 5)),
)
def test_r2_without_nan_matches_sklearn(y_true, y_pred, weight):
    assert keypoint_r2_score(y_true, y_pred) == pytest.approx(r2_score(y_true, y_pred), abs=1e-9)
    assert keypoint_r2_score(y_true, y_pred, sample_weight=weight) == pytest.approx(
        r2_score(y_true, y_pred, sample_weight=weight), abs=1e-9
    )
    assert keypoint_r2_score(y_true[:, 0], y_pred[:, 0]) == pytest.approx(
        r2_score(y_true[:, 0], y_pred[:, 0]), abs=1e-9
    )


def test_r2_scores_each_column_on_its_annotated_rows():
    y_true = np.array([[1.0, np.nan, np.nan], [2.0, 4.0, np.nan], [3.0, 6.0, np.nan], [np.nan, 8.0, np.nan]])
    y_pred = np.array([[1.0, 99.0, 0.0], [2.0, 5.0, 0.0], [3.0, 5.0, 0.0], [np.nan, 8.0, 0.0]])
    expected_second = r2_score([4.0, 6.0, 8.0], [5.0, 5.0, 8.0])
    # The third column is never annotated and is left out of the average.
    assert keypoint_r2_score(y_true, y_pred) == pytest.approx((1.0 + expected_second) / 2)
    with pytest.raises(ValueError, match="no annotated coordinate"):
        keypoint_r2_score(y_true[:, 2:], y_pred[:, 2:])
    with pytest.raises(ValueError, match="same 1-D or 2-D shape"):
        keypoint_r2_score(y_true, y_pred[:, :2])


# --- scorers ---------------------------------------------------------------------------


def _linear_faces(n=60, seed=0):
    """Images whose pixels are a noisy linear function of 15-point keypoints."""
    rng = np.random.default_rng(seed)
    mean_face = _kaggle_face((30, 40), (66, 40), rng)
    y = to_targets(mean_face + rng.normal(scale=3.0, size=(n, 15, 2)))
    X = y @ rng.normal(size=(30, 50)) + rng.normal(scale=0.1, size=(n, 50))
    return X, y


def test_scorers_return_the_negated_error():
    X, y = _linear_faces()
    model = Ridge(alpha=1.0).fit(X[:40], y[:40])
    y_pred = model.predict(X[40:])
    assert rmse_scorer(model, X[40:], y[40:]) == pytest.approx(-keypoint_rmse(y[40:], y_pred))
    assert nme_scorer(model, X[40:], y[40:]) == pytest.approx(-normalized_mean_error(y[40:], y_pred))


def test_scorers_work_inside_cross_validate():
    X, y = _linear_faces()
    folds = KFold(3, shuffle=True, random_state=0)
    result = cross_validate(
        Ridge(alpha=1.0),
        X,
        y,
        cv=folds,
        scoring={"rmse": rmse_scorer, "nme": nme_scorer},
        return_estimator=True,
        return_indices=True,
    )
    for model, test, rmse, nme in zip(
        result["estimator"], result["indices"]["test"], result["test_rmse"], result["test_nme"]
    ):
        assert rmse == pytest.approx(-keypoint_rmse(y[test], model.predict(X[test])))
        assert nme == pytest.approx(-normalized_mean_error(y[test], model.predict(X[test])))
    # The pixels determine the keypoints almost exactly, so the errors are small but nonzero.
    assert np.all(result["test_rmse"] < 0) and np.all(result["test_rmse"] > -0.5)
