"""The one framing: frames from landmarks, the aligned crop, and its inverse on keypoints."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skfkd import IBUG_68
from skfkd._framing import eye_angles, frames_from_keypoints, keypoints_to_crop, shifted_frames
from skfkd.baselines import MeanKeypointRegressor
from skfkd.datasets import load_landmark_folder, make_faces, save_landmark_folder
from skfkd.faces import FaceLandmarker, crop_faces, landmark_frames, uncrop_keypoints

frames_strategy = st.tuples(
    st.floats(-100, 600), st.floats(-100, 600), st.floats(4, 500), st.floats(-180, 180)
).map(lambda frame: np.array([frame]))


@settings(max_examples=100)
@given(
    points=arrays(np.float64, (1, 7, 2), elements=st.floats(-200, 800, allow_nan=False)),
    frame=frames_strategy,
    size=st.integers(8, 256),
)
def test_crop_then_uncrop_is_the_identity_on_keypoints(points, frame, size):
    in_crop = keypoints_to_crop(points, frame, size)
    np.testing.assert_allclose(uncrop_keypoints(in_crop, frame, size=size), points, atol=1e-6)
    flat = uncrop_keypoints(in_crop.reshape(1, -1), frame, size=size)
    np.testing.assert_allclose(flat, points.reshape(1, -1), atol=1e-6)


@settings(max_examples=30)
@given(
    column=st.integers(60, 140),
    row=st.integers(50, 100),
    side=st.integers(30, 90),
    angle=st.floats(-60, 60),
    size=st.sampled_from([24, 48, 96]),
)
def test_a_dot_in_the_photo_lands_where_the_keypoint_map_says(column, row, side, angle, size):
    # The pixels (the warp) and the coordinates (the keypoint map) turn and scale alike.
    photo = np.zeros((150, 200), dtype=np.uint8)
    photo[row - 1 : row + 2, column - 1 : column + 2] = 255
    frame = np.array([[column + 4.0, row - 3.0, side, angle]])
    crop = crop_faces([photo], frame, size=size)[0].reshape(size, size).astype(float)
    rows, columns = np.indices(crop.shape)
    centre = [(columns * crop).sum() / crop.sum(), (rows * crop).sum() / crop.sum()]
    expected = keypoints_to_crop(np.array([[[column, row]]], dtype=float), frame, size)[0, 0]
    np.testing.assert_allclose(centre, expected, atol=0.6 + 0.6 * size / side)


@settings(max_examples=100)
@given(frame=frames_strategy, amount=st.floats(0, 0.25), size=st.integers(8, 256))
def test_shifted_frames_move_the_crop_along_its_own_axes(frame, amount, size):
    # The face's centre, seen in each shifted frame's crop, sits amount * size pixels from
    # the crop's centre, against the move: right, left, down, up in the crop's axes.
    moved = shifted_frames(frame, amount)
    assert moved.shape == (4, 1, 4)
    np.testing.assert_array_equal(moved[:, 0, 2:], np.repeat(frame[:, 2:], 4, axis=0))
    centre = frame[None, :, :2]
    seen = np.concatenate([keypoints_to_crop(centre, view, size)[0] for view in moved])
    expected = (size - 1) / 2 - amount * size * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    np.testing.assert_allclose(seen, expected, atol=1e-6 * size)


@settings(max_examples=50)
@given(
    points=arrays(np.float64, (2, 68, 2), elements=st.floats(0, 300, allow_nan=False)),
    margin=st.floats(0, 0.5),
)
def test_a_landmark_frame_holds_every_point_with_its_margin(points, margin):
    assume((points.max(axis=1) - points.min(axis=1)).min() > 2)  # a frame has a side of 1 at least
    frames = frames_from_keypoints(points, margin, IBUG_68.interocular)
    in_crop = keypoints_to_crop(points, frames, 100)
    # The points span the square, less the margin on each side, along at least one axis.
    inner = 100 / (1 + 2 * margin)
    assert (in_crop >= 49.5 - inner / 2 - 1e-6).all() and (in_crop <= 49.5 + inner / 2 + 1e-6).all()
    extent = in_crop.max(axis=1) - in_crop.min(axis=1)
    np.testing.assert_allclose(extent.max(axis=1), inner, rtol=1e-6, atol=1e-6)


def test_the_eye_line_sets_the_angle_and_upright_crops_have_level_eyes():
    face = make_faces(1, layout=IBUG_68, random_state=0).target.reshape(1, 68, 2)
    assert abs(eye_angles(face, IBUG_68.interocular)[0]) < 10
    centre = face[0].mean(axis=0)
    for turn in (-35.0, 20.0):
        radians = np.radians(turn)
        rotation = np.array([[np.cos(radians), -np.sin(radians)], [np.sin(radians), np.cos(radians)]])
        turned = (face - centre) @ rotation.T + centre
        angle = eye_angles(turned, IBUG_68.interocular)[0]
        np.testing.assert_allclose(angle, eye_angles(face, IBUG_68.interocular)[0] + turn, atol=1e-9)
        frames = landmark_frames(turned)
        upright = keypoints_to_crop(turned, frames, 96)[0]
        left, right = upright[IBUG_68.interocular[0]], upright[IBUG_68.interocular[1]]
        np.testing.assert_allclose(left[1], right[1], atol=1e-9)  # level eyes in the crop


def test_angle_zero_is_the_axis_aligned_box_the_loaders_crop(tmp_path):
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (120, 90, 3), dtype=np.uint8) for _ in range(3)]
    keypoints = rng.uniform(10, 80, (3, 68, 2))
    save_landmark_folder(photos, keypoints, tmp_path)
    loaded = load_landmark_folder(tmp_path, crop_size=40, crop_margin=0.15)
    frames = landmark_frames(loaded.keypoints, margin=0.15, align=False)
    np.testing.assert_array_equal(frames, loaded.crop_frames)
    np.testing.assert_array_equal(crop_faces(list(loaded.images), frames, size=40), loaded.data)
    low, high = keypoints.min(axis=1), keypoints.max(axis=1)
    np.testing.assert_allclose(frames[:, :2], (low + high) / 2)
    np.testing.assert_allclose(frames[:, 2], (high - low).max(axis=1) * 1.3)
    np.testing.assert_allclose(uncrop_keypoints(loaded.target, frames, size=40), keypoints.reshape(3, -1))


def test_training_and_inference_frame_faces_one_way():
    faces = make_faces(12, layout=IBUG_68, random_state=0)
    photos, keypoints = list(faces.data.reshape(-1, 96, 96)), faces.target.reshape(-1, 68, 2)
    landmarker = FaceLandmarker(MeanKeypointRegressor(), box_jitter=0, angle_jitter=0, n_calibration=0)
    landmarker.fit(photos, keypoints)
    X_train, y_train = landmarker._training_crops(photos, keypoints, np.random.RandomState(0))
    frames = landmark_frames(keypoints, margin=landmarker.crop_margin)
    np.testing.assert_array_equal(X_train, crop_faces(photos, frames))
    np.testing.assert_allclose(uncrop_keypoints(y_train, frames), keypoints.reshape(12, -1), atol=1e-9)
    # The refinement passes frame predictions with landmark_frames too.
    np.testing.assert_array_equal(landmarker._landmark_frames(keypoints), frames)


def test_a_much_larger_frame_is_shrunk_without_aliasing():
    # Fine stripes, 2 pixels wide, under a frame 8 times the crop: the crop is their mean.
    photo = np.tile(np.repeat([0, 255], 2).astype(np.uint8), (800, 200))
    crop = crop_faces([photo], [[400.0, 400.0, 768.0, 30.0]], size=96)[0]
    assert abs(crop.astype(float).mean() - 127.5) < 3 and crop.std() < 6


def test_bad_input():
    photo = np.zeros((50, 50), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"frames need shape \(n_faces, 4\)"):
        crop_faces([photo], [[1, 2, 3]])
    with pytest.raises(ValueError, match="positive side"):
        crop_faces([photo], [[1, 2, 0, 3]])
    with pytest.raises(ValueError, match="1 photos but 2 frames"):
        crop_faces([photo], [[1, 2, 3, 4], [1, 2, 3, 4]])
    with pytest.raises(ValueError, match=r"pass a list, \[photo\] for one photo"):
        crop_faces(photo, [[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="'crop_size' parameter of crop_faces"):
        crop_faces([photo], [[1, 2, 3, 4]], size=4)
    with pytest.raises(ValueError, match="y must be"):
        uncrop_keypoints(np.zeros((1, 2, 3)), [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="no built-in layout|keypoints"):
        landmark_frames(np.zeros((1, 7, 2)))


@settings(max_examples=40, deadline=None)
@given(frame=frames_strategy, size=st.sampled_from([8, 40, 96]), seed=st.integers(0, 2**32 - 1))
def test_colour_crops_cut_each_channel_as_a_gray_crop_is_cut(frame, size, seed):
    # Small and huge frames alike (the area-filtered shrink applies to every channel).
    photo = np.random.default_rng(seed).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    colour = crop_faces([photo], frame, size=size, colour=True)
    assert colour.shape == (1, size, size, 3) and colour.dtype == np.uint8
    for channel in range(3):
        gray = crop_faces([np.ascontiguousarray(photo[..., channel])], frame, size=size)
        np.testing.assert_array_equal(colour[..., channel].reshape(1, -1), gray)
    # A gray photo is the same value in all three channels.
    gray_photo = photo[..., 0]
    np.testing.assert_array_equal(
        crop_faces([gray_photo], frame, size=size, colour=True),
        np.repeat(crop_faces([gray_photo], frame, size=size).reshape(1, size, size, 1), 3, axis=-1),
    )
