import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skfkd._crop import (
    boxes_from_keypoints,
    crop_face,
    crop_faces_from_boxes,
    keypoints_from_crop,
    keypoints_to_crop,
)

boxes = st.tuples(st.floats(-50, 300), st.floats(-50, 300), st.floats(1, 400)).map(
    lambda b: np.array([[b[0], b[1], b[2], b[2]]])
)
points = hnp.arrays(np.float64, (1, 5, 2), elements=st.floats(-500, 500))


@given(points, boxes, st.integers(8, 256))
def test_crop_coordinates_round_trip(keypoints, box, size):
    there = keypoints_to_crop(keypoints, box, size)
    np.testing.assert_allclose(keypoints_from_crop(there, box, size), keypoints, atol=1e-6)


@given(points, boxes)
def test_box_corners_map_to_crop_edges(keypoints, box):
    left, top, width, _ = box[0]
    corners = np.array([[[left, top], [left + width, top + width]]])
    np.testing.assert_allclose(keypoints_to_crop(corners, box, 96), [[[-0.5, -0.5], [95.5, 95.5]]], atol=1e-6)


@given(st.integers(20, 180), st.integers(20, 130), st.sampled_from([24.0, 48.0, 96.0, 150.0]))
def test_a_bright_pixel_lands_where_its_keypoint_maps(col, row, side):
    photo = np.zeros((160, 200), dtype=np.uint8)
    photo[row, col] = 255
    box = np.array([[col - side / 3, row - side / 2, side, side]])
    expected = keypoints_to_crop(np.array([[[col, row]]], dtype=float), box, 48)[0, 0]
    crop = crop_face(photo, box[0], 48)
    peak_row, peak_col = np.unravel_index(np.argmax(crop), crop.shape)
    assert abs(peak_col - expected[0]) <= 1 and abs(peak_row - expected[1]) <= 1


@given(hnp.arrays(np.float64, (4, 7, 2), elements=st.floats(0, 1000)), st.floats(0, 1))
def test_boxes_from_keypoints_are_square_and_hold_every_point(keypoints, margin):
    result = boxes_from_keypoints(keypoints, margin)
    assert result.shape == (4, 4)
    np.testing.assert_array_equal(result[:, 2], result[:, 3])
    inside = keypoints_to_crop(keypoints, result, 96)
    assert (inside >= -0.5 - 1e-6).all() and (inside <= 95.5 + 1e-6).all()


def test_boxes_ignore_unannotated_points_and_reject_empty_faces():
    keypoints = np.array([[[10.0, 10.0], [20.0, 30.0], [np.nan, np.nan]]])
    np.testing.assert_allclose(boxes_from_keypoints(keypoints, 0.0), [[5.0, 10.0, 20.0, 20.0]])
    with pytest.raises(ValueError, match=r"faces \[0\] have no annotated keypoint"):
        boxes_from_keypoints(np.full((1, 3, 2), np.nan))


@pytest.mark.parametrize(
    "photo",
    [
        np.full((50, 60, 3), 200, dtype=np.uint8),
        np.full((50, 60, 4), 200, dtype=np.uint8),
        np.full((50, 60), 200 / 255),
        np.full((50, 60), 200 * 257, dtype=np.uint16),
        np.full((50, 60, 1), 200, dtype=np.uint8),
    ],
    ids=["rgb", "rgba", "float", "uint16", "single-channel"],
)
def test_crops_read_any_photo_kind(photo):
    crops = crop_faces_from_boxes([photo], np.array([[10.0, 10.0, 30.0, 30.0]]), 16)
    assert crops.dtype == np.uint8 and crops.shape == (1, 16, 16)
    np.testing.assert_allclose(crops, 200, atol=1)


def test_crops_reject_bad_boxes_and_images():
    with pytest.raises(ValueError, match=r"shape \(1, 4\)"):
        crop_faces_from_boxes([np.zeros((5, 5))], np.zeros((2, 4)), 8)
    with pytest.raises(ValueError, match="positive width"):
        crop_faces_from_boxes([np.zeros((5, 5))], np.array([[0.0, 0.0, 0.0, 3.0]]), 8)
    with pytest.raises(ValueError, match="an image must be"):
        crop_faces_from_boxes([np.zeros((5, 5, 5, 5))], np.array([[0.0, 0.0, 3.0, 3.0]]), 8)
