import copy

import numpy as np
import pytest
from skimage.data import astronaut
from sklearn.exceptions import NotFittedError

from skfkd._crop import landmark_boxes
from skfkd.baselines import make_pca_ridge
from skfkd.datasets import make_faces
from skfkd.faces import FaceLandmarker, crop_faces, uncrop_keypoints


@pytest.fixture(scope="module")
def synthetic():
    faces = make_faces(80, random_state=0)
    return list(faces.data.reshape(-1, 96, 96)), faces.target.reshape(-1, 15, 2)


def _landmarker(**params):
    defaults = {"n_calibration": 0, "verify_faces": False, "random_state": 0}
    return FaceLandmarker(make_pca_ridge(20, random_state=0), **{**defaults, **params})


def _boxes(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(10, 25, (n, 2)), rng.uniform(50, 70, (n, 2))])


def test_given_boxes_reproduce_the_regressors_predictions_mapped_back(synthetic):
    photos, keypoints = synthetic
    landmarker = _landmarker(n_refinements=0).fit(photos, keypoints)
    boxes = _boxes(10)
    predicted = landmarker.predict(photos[:10], boxes=boxes)
    assert [p.shape for p in predicted] == [(1, 15, 2)] * 10
    X, crop_boxes = crop_faces(photos[:10], boxes, size=96, margin=0.1)
    expected = uncrop_keypoints(landmarker.regressor_.predict(X), crop_boxes).reshape(10, 15, 2)
    np.testing.assert_allclose(np.concatenate(predicted), expected, atol=1e-9)


def test_refine_predicts_again_on_the_first_predictions_framing(synthetic):
    photos, keypoints = synthetic
    landmarker = _landmarker(n_refinements=0).fit(photos, keypoints)
    first = np.concatenate(landmarker.predict(photos[:5], boxes=_boxes(5)))
    second = np.concatenate(landmarker.predict(photos[:5], boxes=landmark_boxes(first)))
    refined = np.concatenate(landmarker.set_params(n_refinements=1).predict(photos[:5], boxes=_boxes(5)))
    # The calibration is the identity here (n_calibration=0), so boxes pass unchanged.
    np.testing.assert_allclose(refined, second, atol=1e-9)


def test_several_boxes_per_photo_and_photos_without_boxes(synthetic):
    photos, keypoints = synthetic
    landmarker = _landmarker().fit(photos, keypoints)
    predicted = landmarker.predict(photos[:3], boxes=[_boxes(2), np.empty((0, 4)), _boxes(1)])
    assert [p.shape for p in predicted] == [(2, 15, 2), (0, 15, 2), (1, 15, 2)]


def test_box_jitter_is_seeded_and_changes_the_training_crops(synthetic):
    photos, keypoints = synthetic
    boxes = _boxes(4)
    a = _landmarker(box_jitter=0.2).fit(photos, keypoints).predict(photos[:4], boxes=boxes)
    b = _landmarker(box_jitter=0.2).fit(photos, keypoints).predict(photos[:4], boxes=boxes)
    c = _landmarker(box_jitter=0.0).fit(photos, keypoints).predict(photos[:4], boxes=boxes)
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
    assert not np.allclose(np.concatenate(a), np.concatenate(c))


def test_bad_input(synthetic):
    photos, keypoints = synthetic
    with pytest.raises(NotFittedError):
        _landmarker().predict(photos[:1])
    with pytest.raises(ValueError, match=r"keypoints need shape \(80, n_keypoints, 2\)"):
        _landmarker().fit(photos, keypoints[:10])
    with pytest.raises(ValueError, match="set n_calibration > 0"):
        _landmarker(verify_faces=True).fit(photos, keypoints)
    with pytest.raises(ValueError, match="box_jitter"):
        _landmarker(box_jitter=0.7).fit(photos, keypoints)
    with pytest.raises(ValueError, match=r"pass \[photo\]"):
        _landmarker().fit(photos[0], keypoints[:1])
    landmarker = _landmarker().fit(photos[:20], keypoints[:20])
    with pytest.raises(ValueError, match="one list of boxes per photo"):
        landmarker.predict(photos[:2], boxes=[_boxes(1)])
    with pytest.raises(ValueError, match=r"needs shape \(2, 4\)"):
        landmarker.predict(photos[:2], boxes=_boxes(3))
    with pytest.raises(ValueError, match="positive width"):
        landmarker.predict(photos[:1], boxes=[[[0, 0, -1, 5]]])


def test_calibration_and_face_check_learned_on_real_photos(youtube_landmarker, youtube_faces):
    landmarker = youtube_landmarker
    assert landmarker.n_calibration_faces_ >= 72  # the detector finds 90 % or more
    dx, dy, log_scale = landmarker.box_calibration_
    # The cascade's box covers the forehead: the landmarks' box sits lower, near the
    # same size, and centred left to right.
    assert 0.05 < dy < 0.3 and abs(dx) < 0.1 and abs(log_scale) < 0.3
    held_out = list(youtube_faces.images[3:3462:60])
    boxes = landmarker.detect(held_out)
    assert np.mean([len(b) >= 1 for b in boxes]) >= 0.85


def test_predicts_the_astronauts_face_and_nothing_on_a_blank_photo(youtube_landmarker):
    photo = astronaut()
    faces = youtube_landmarker.predict([photo, np.full((200, 200, 3), 90, np.uint8)])
    assert faces[1].shape == (0, 68, 2)
    assert len(faces[0]) >= 1
    # The astronaut's face spans columns 175-265 and rows 50-140; its keypoints lie there.
    centres = faces[0].mean(axis=1)
    assert any((abs(c[0] - 220) < 25 and abs(c[1] - 100) < 25) for c in centres)


def test_max_faces_keeps_the_largest_detections(youtube_landmarker):
    photo = astronaut()
    every = youtube_landmarker.detect([photo])[0]
    assert len(every) >= 2  # the cascade's false alarms on this photo pass the face check
    largest = copy.deepcopy(youtube_landmarker).set_params(max_faces=1)  # fitted, one face kept
    np.testing.assert_array_equal(largest.detect([photo])[0], every[:1])
    assert [len(faces) for faces in largest.predict([photo])] == [1]
    with pytest.raises(ValueError, match="max_faces"):
        FaceLandmarker(max_faces=0)._check_params()
