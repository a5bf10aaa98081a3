import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skfkd._crop import keypoints_to_crop, landmark_boxes
from skfkd.datasets import load_landmark_folder, save_landmark_folder
from skfkd.faces import crop_faces, uncrop_keypoints


def test_landmark_boxes_reproduce_the_loaders_crops(tmp_path):
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (120, 90, 3), dtype=np.uint8) for _ in range(3)]
    keypoints = rng.uniform(10, 80, (3, 68, 2))
    save_landmark_folder(photos, keypoints, tmp_path)
    loaded = load_landmark_folder(tmp_path, crop_size=40, crop_margin=0.15)
    X, crop_boxes = crop_faces(loaded.images, landmark_boxes(loaded.keypoints), size=40, margin=0.15)
    np.testing.assert_array_equal(X, loaded.data)
    np.testing.assert_array_equal(crop_boxes, loaded.crop_boxes)
    np.testing.assert_allclose(uncrop_keypoints(loaded.target, crop_boxes, size=40), keypoints.reshape(3, -1))


@settings(max_examples=50)
@given(
    points=arrays(np.float64, (3, 5, 2), elements=st.floats(-100, 600, allow_nan=False)),
    boxes=arrays(np.float64, (3, 4), elements=st.floats(1, 400)),
    size=st.integers(8, 128),
)
def test_crop_then_uncrop_returns_the_same_coordinates(points, boxes, size):
    in_crop = keypoints_to_crop(points, boxes, size)
    np.testing.assert_allclose(uncrop_keypoints(in_crop, boxes, size=size), points, atol=1e-9)
    flat = uncrop_keypoints(in_crop.reshape(3, -1), boxes, size=size)
    np.testing.assert_allclose(flat, points.reshape(3, -1), atol=1e-9)


@settings(max_examples=25)
@given(
    column=st.integers(30, 170),
    row=st.integers(30, 120),
    side=st.integers(40, 100),
    size=st.sampled_from([24, 48, 96]),
)
def test_a_dot_in_the_photo_lands_where_uncrop_says(column, row, side, size):
    photo = np.zeros((150, 200), dtype=np.uint8)
    photo[row, column] = 255
    box = [[column - side / 2 + 3.0, row - side / 2 - 2.0, side, side]]
    X, crop_boxes = crop_faces([photo], box, size=size, margin=0.0)
    crop = X[0].reshape(size, size).astype(float)
    # The blurred dot's centre of mass in the crop, mapped back, is the dot.
    rows, columns = np.indices(crop.shape)
    centre = [(columns * crop).sum() / crop.sum(), (rows * crop).sum() / crop.sum()]
    back = uncrop_keypoints(np.array([[centre]]), crop_boxes, size=size)[0, 0]
    np.testing.assert_allclose(back, [column, row], atol=0.5 * side / size + 0.05)


def test_bad_input():
    photo = np.zeros((50, 50), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"boxes need shape \(1, 4\)"):
        crop_faces([photo], [[1, 2, 3]])
    with pytest.raises(ValueError, match="positive width"):
        crop_faces([photo], [[1, 2, 0, 3]])
    with pytest.raises(ValueError, match=r"pass \[photo\]"):
        crop_faces(photo, [[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="size must be"):
        crop_faces([photo], [[1, 2, 3, 4]], size=4)
    with pytest.raises(ValueError, match="y must be"):
        uncrop_keypoints(np.zeros((1, 2, 3)), [[0, 0, 1, 1]])
