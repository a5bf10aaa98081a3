import copy

import numpy as np
import pytest
from skimage.data import astronaut
from sklearn.exceptions import NotFittedError

from skfkd import FacialKeypointRegressor
from skfkd._framing import DEFAULT_CROP_MARGIN, frames_from_boxes, shifted_frames
from skfkd.baselines import make_pca_ridge
from skfkd.datasets import make_faces
from skfkd.faces import FaceLandmarker, Faces, crop_faces, uncrop_keypoints


@pytest.fixture(scope="module")
def synthetic():
    faces = make_faces(80, random_state=0)
    return list(faces.data.reshape(-1, 96, 96)), faces.target.reshape(-1, 15, 2)


def _landmarker(**params):
    defaults = {"n_calibration": 0, "random_state": 0}
    return FaceLandmarker(make_pca_ridge(20, random_state=0), **{**defaults, **params})


def _boxes(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(10, 25, (n, 2)), rng.uniform(50, 70, (n, 2))])


def _regressor_on(landmarker, photos, frames):
    """The landmarker's regressor on these frames' crops, mapped back to photo pixels."""
    X = crop_faces(photos, frames)
    return uncrop_keypoints(landmarker.regressor_.predict(X), frames).reshape(len(photos), -1, 2)


def test_given_boxes_reproduce_the_regressors_predictions_mapped_back(synthetic):
    photos, keypoints = synthetic
    landmarker = _landmarker(n_refinements=0).fit(photos, keypoints)
    boxes = _boxes(10)
    predicted = landmarker.predict(photos[:10], boxes=boxes)
    assert [p.shape for p in predicted] == [(1, 15, 2)] * 10
    # Given boxes are framed upright, grown by the margin (the calibration is the identity here).
    frames = frames_from_boxes(boxes, DEFAULT_CROP_MARGIN)
    expected = _regressor_on(landmarker, photos[:10], frames)
    np.testing.assert_allclose(np.concatenate(predicted), expected, atol=1e-9)


def test_refine_predicts_again_on_the_first_predictions_framing(synthetic):
    photos, keypoints = synthetic
    landmarker = _landmarker(n_refinements=0).fit(photos, keypoints)
    first = np.concatenate(landmarker.predict(photos[:5], boxes=_boxes(5)))
    frames = landmarker._landmark_frames(first)  # eye-aligned, as in training
    second = _regressor_on(landmarker, photos[:5], frames)
    refined = np.concatenate(landmarker.set_params(n_refinements=1).predict(photos[:5], boxes=_boxes(5)))
    np.testing.assert_allclose(refined, second, atol=1e-9)


def test_predict_frames_is_the_regressor_on_the_given_frames(synthetic):
    photos, keypoints = synthetic
    landmarker = _landmarker().fit(photos, keypoints)
    frames = landmarker._landmark_frames(keypoints[:6])
    np.testing.assert_allclose(
        landmarker.predict_frames(photos[:6], frames),
        _regressor_on(landmarker, photos[:6], frames),
        atol=1e-9,
    )
    assert landmarker.predict_frames([], np.empty((0, 4))).shape == (0, 15, 2)


def test_shift_test_averages_the_last_pass_over_the_frame_and_its_four_shifts(synthetic):
    photos, keypoints = synthetic
    landmarker = _landmarker(n_refinements=1).fit(photos, keypoints)
    boxes = _boxes(5)
    first = np.concatenate(landmarker.set_params(n_refinements=0).predict(photos[:5], boxes=boxes))
    frames = landmarker._landmark_frames(first)  # the refinement's framing, from the plain first pass
    views = [frames, *shifted_frames(frames, 0.05)]
    expected = np.mean([_regressor_on(landmarker, photos[:5], view) for view in views], axis=0)
    landmarker.set_params(n_refinements=1, shift_test=0.05)
    refined = np.concatenate(landmarker.predict(photos[:5], boxes=boxes))
    np.testing.assert_allclose(refined, expected, atol=1e-9)
    np.testing.assert_allclose(landmarker.predict_frames(photos[:5], frames), expected, atol=1e-9)
    # Without refinement the first pass is the last, and it is the one averaged.
    landmarker.set_params(n_refinements=0)
    start = frames_from_boxes(boxes, DEFAULT_CROP_MARGIN)
    views = [start, *shifted_frames(start, 0.05)]
    expected = np.mean([_regressor_on(landmarker, photos[:5], view) for view in views], axis=0)
    np.testing.assert_allclose(
        np.concatenate(landmarker.predict(photos[:5], boxes=boxes)), expected, atol=1e-9
    )
    assert not np.allclose(expected, _regressor_on(landmarker, photos[:5], start))


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
    with pytest.raises(ValueError, match="'detector' parameter of FaceLandmarker"):
        _landmarker(detector="haar").fit(photos, keypoints)
    with pytest.raises(ValueError, match="box_jitter"):
        _landmarker(box_jitter=0.7).fit(photos, keypoints)
    with pytest.raises(ValueError, match=r"pass a list, \[photo\] for one photo"):
        _landmarker().fit(photos[0], keypoints[:1])
    landmarker = _landmarker().fit(photos[:20], keypoints[:20])
    with pytest.raises(ValueError, match="one list of boxes per photo"):
        landmarker.predict(photos[:2], boxes=[_boxes(1)])
    with pytest.raises(ValueError, match=r"needs shape \(2, 4\)"):
        landmarker.predict(photos[:2], boxes=_boxes(3))
    with pytest.raises(ValueError, match="positive width"):
        landmarker.predict(photos[:1], boxes=[[[0, 0, -1, 5]]])
    with pytest.raises(ValueError, match=r"frames need shape \(2, 4\), one \[centre_x"):
        landmarker.predict_frames(photos[:2], np.ones((3, 4)))
    with pytest.raises(ValueError, match="positive side"):
        landmarker.predict_frames(photos[:1], [[10.0, 10.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="'shift_test' parameter of FaceLandmarker"):
        landmarker.set_params(shift_test=0.3).predict_frames(photos[:1], [[40.0, 40.0, 50.0, 0.0]])


def test_calibration_learned_on_real_photos(youtube_landmarker, youtube_faces):
    landmarker = youtube_landmarker
    assert landmarker.n_calibration_faces_ >= 79  # YuNet finds every one of the 80
    dx, dy, log_scale, turn = landmarker.box_calibration_
    # YuNet's box reaches above the brows and stops at the chin: the landmarks' frame sits a
    # little lower, centred left to right, near its size, turned as the eyes are.
    assert 0 < dy < 0.3 and abs(dx) < 0.1 and abs(log_scale) < 0.4 and abs(turn) < 5
    held_out = list(youtube_faces.images[3:3462:60])
    found = landmarker.detect(held_out)
    assert all(len(faces.boxes) >= 1 for faces in found)


def test_predicts_the_astronauts_face_with_its_box_and_score(youtube_landmarker):
    photo = astronaut()
    found = youtube_landmarker.predict_faces([photo, np.full((200, 200, 3), 90, np.uint8)])
    assert isinstance(found[0], Faces)
    assert found[1].keypoints.shape == (0, 68, 2) and found[1].boxes.shape == (0, 4)
    assert len(found[0].keypoints) == 1 and found[0].scores[0] > 0.9
    # The astronaut's face spans columns 175-265 and rows 50-170; its keypoints lie there.
    centre = found[0].keypoints[0].mean(axis=0)
    assert abs(centre[0] - 220) < 25 and abs(centre[1] - 110) < 25
    left, top, width, height = found[0].boxes[0]
    assert left < centre[0] < left + width and top < centre[1] < top + height
    np.testing.assert_array_equal(youtube_landmarker.predict([photo])[0], found[0].keypoints)


def test_max_faces_keeps_the_largest_detections(youtube_landmarker):
    photos = [np.hstack([astronaut(), astronaut()[::2, ::2].repeat(2, axis=0).repeat(2, axis=1)])]
    every = youtube_landmarker.detect(photos)[0]
    assert len(every.boxes) == 2
    largest = copy.deepcopy(youtube_landmarker).set_params(max_faces=1)  # fitted, one face kept
    np.testing.assert_array_equal(largest.detect(photos)[0].boxes, every.boxes[:1])
    assert [len(faces) for faces in largest.predict(photos)] == [1]
    with pytest.raises(ValueError, match="max_faces"):
        FaceLandmarker(max_faces=0)._check_params()


def test_photos_may_be_file_paths_and_any_photo_kind(youtube_landmarker, tmp_path):
    from PIL import Image

    Image.fromarray(astronaut()).save(tmp_path / "astronaut.png")
    by_path = youtube_landmarker.predict([tmp_path / "astronaut.png"])[0]
    as_float = youtube_landmarker.predict([astronaut() / 255.0])[0]
    expected = youtube_landmarker.predict([astronaut()])[0]
    np.testing.assert_array_equal(by_path, expected)
    np.testing.assert_allclose(as_float, expected, atol=1e-6)


def test_colour_gives_the_regressor_rgb_crops_of_the_photos(synthetic):
    gray_photos, keypoints = synthetic
    photos = [np.stack([p, p // 2, 255 - p], axis=-1).astype(np.uint8) for p in gray_photos]
    regressor = FacialKeypointRegressor(
        max_epochs=1,
        augmentation=None,
        random_state=0,
        module__widths=(8, 16, 32),
        module__depths=(1, 1, 1),
        latent_dim=16,
    )
    landmarker = _landmarker(colour=True, crop_size=32, n_refinements=0).set_params(regressor=regressor)
    landmarker.fit(photos, keypoints)
    assert landmarker.regressor_.n_channels_ == 3
    boxes = _boxes(4)
    frames = frames_from_boxes(boxes, DEFAULT_CROP_MARGIN)
    X = crop_faces(photos[:4], frames, size=32, colour=True)
    expected = uncrop_keypoints(landmarker.regressor_.predict(X), frames, size=32).reshape(4, -1, 2)
    np.testing.assert_allclose(
        np.concatenate(landmarker.predict(photos[:4], boxes=boxes)), expected, atol=1e-9
    )
    # Gray photos go in as three equal channels.
    gray = [p[..., 0] for p in photos[:2]]
    as_rgb = [np.repeat(p[..., None], 3, axis=-1) for p in gray]
    np.testing.assert_allclose(
        np.concatenate(landmarker.predict(gray, boxes=boxes[:2])),
        np.concatenate(landmarker.predict(as_rgb, boxes=boxes[:2])),
    )
    # A regressor that takes rows only says so.
    with pytest.raises(ValueError, match="dim 4"):
        _landmarker(colour=True).fit(photos, keypoints)
