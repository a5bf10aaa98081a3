import numpy as np
import pytest
from skimage.data import astronaut
from skimage.transform import rescale

from skfkd._crop import landmark_boxes
from skfkd.datasets import load_landmark_folder
from skfkd.faces import detect_faces

# The astronaut's face in skimage.data.astronaut() (512 x 512), by eye: columns 175-265,
# rows 50-140.
FACE = np.array([175.0, 50.0, 90.0, 90.0])


def _frames(box, face=FACE):
    """The box is centred on the face and about its size."""
    centre, face_centre = box[:2] + box[2:] / 2, face[:2] + face[2:] / 2
    return bool((np.abs(centre - face_centre) < face[2:] / 3).all() and 0.6 < box[2] / face[2] < 1.6)


def test_finds_the_astronauts_face():
    boxes = detect_faces(astronaut())
    assert boxes.ndim == 2 and boxes.shape[1] == 4
    assert any(_frames(box) for box in boxes)
    areas = boxes[:, 2] * boxes[:, 3]
    assert (np.diff(areas) <= 0).all()  # largest first


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: im,
        lambda im: im.astype(np.uint16) * 257,
        lambda im: im / 255.0,
        lambda im: np.dstack([im, np.full(im.shape[:2], 255, np.uint8)]),
        lambda im: np.rint(im @ [0.2125, 0.7154, 0.0721]).astype(np.uint8),
        lambda im: np.rint(im @ [0.2125, 0.7154, 0.0721]).astype(np.uint8)[..., None],
    ],
    ids=["uint8", "uint16", "float", "rgba", "gray", "gray-1-channel"],
)
def test_accepts_every_photo_kind(convert):
    boxes = detect_faces(convert(astronaut()))
    assert any(_frames(box) for box in boxes)


def test_huge_photos_are_searched_down_scaled_but_boxes_are_in_original_pixels():
    huge = np.clip(rescale(astronaut(), 5, channel_axis=-1, order=1) * 255, 0, 255).astype(np.uint8)
    assert huge.shape[:2] == (2560, 2560)
    boxes = detect_faces(huge)
    assert any(_frames(box, FACE * 5) for box in boxes)


def test_a_photo_without_a_face_gives_no_box():
    flat = np.full((200, 300), 128, dtype=np.uint8)
    assert detect_faces(flat).shape == (0, 4)
    assert detect_faces(np.zeros((10, 10))).shape == (0, 4)  # smaller than min_size


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((5, 5, 2)), "grayscale"),
        (np.zeros((0, 5)), "empty"),
        (np.array([["a"]]), "numbers"),
        (np.zeros((4, 4), dtype=bool), "numbers"),
    ],
)
def test_bad_photos(image, message):
    with pytest.raises(ValueError, match=message):
        detect_faces(image)
    with pytest.raises(ValueError, match="scale_factor"):
        detect_faces(np.zeros((40, 40)), scale_factor=1.0)


def _found(photo, keypoints):
    """The detector frames the annotated face: a box centred inside the landmarks' box,
    with a side between half and twice its longer side."""
    face = landmark_boxes(keypoints[None])[0]
    boxes = detect_faces(photo)
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    inside = (np.abs(centres - (face[:2] + face[2:] / 2)) <= face[2:] / 2).all(axis=1)
    ratio = boxes[:, 2] / face[2:].max()
    return bool((inside & (ratio >= 0.5) & (ratio <= 2)).any())


def test_detector_finds_the_faces_of_the_shared_training_photos(youtube_faces, lfpw_path):
    # A fixed, evenly spread sample keeps this under a minute; benchmarks/detection.py
    # counts every photo.
    lfpw = load_landmark_folder(lfpw_path, crop_size=None)
    found = [_found(youtube_faces.images[i], youtube_faces.keypoints[i]) for i in range(0, 3462, 30)]
    found += [_found(lfpw.images[i], lfpw.keypoints[i]) for i in range(0, 805, 16)]
    rate = np.mean(found)
    print(f"detector found {sum(found)} of {len(found)} sampled faces ({rate:.1%})")
    assert rate >= 0.95
