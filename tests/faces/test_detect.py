import hashlib

import cv2
import numpy as np
import pytest
from skimage.data import astronaut, camera

from skfkd._framing import landmark_boxes
from skfkd.datasets import load_dlib_xml, load_landmark_folder
from skfkd.faces import Detections, detect_faces
from skfkd.faces._detect import yunet_path

# The astronaut's face in skimage.data.astronaut() (512 x 512), by eye: columns 175-265,
# rows 50-140 (to the chin at 170). The cameraman's face in skimage.data.camera(): columns
# 200-255, rows 115-190.
ASTRONAUT = np.array([175.0, 50.0, 90.0, 120.0])
CAMERAMAN = np.array([200.0, 115.0, 55.0, 75.0])


def _frames(box, face):
    """The box is centred on the face and about its size."""
    centre, face_centre = box[:2] + box[2:] / 2, face[:2] + face[2:] / 2
    return bool((np.abs(centre - face_centre) < face[2:] / 3).all() and 0.6 < box[2] / face[2] < 1.6)


def test_the_shipped_yunet_is_the_file_its_readme_names():
    digest = hashlib.sha256(yunet_path().read_bytes()).hexdigest()
    assert digest == "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
    assert "Apache License" in (yunet_path().parent / "LICENSE").read_text()
    assert "ShiqiYu/libfacedetection.train" in (yunet_path().parent / "README.md").read_text()


def test_one_face_on_the_astronaut_and_nothing_else():
    found = detect_faces(astronaut())
    assert isinstance(found, Detections)
    assert len(found.boxes) == 1 and _frames(found.boxes[0], ASTRONAUT)
    assert found.scores.shape == (1,) and 0.6 <= found.scores[0] <= 1
    left_eye, right_eye = found.eyes[0]  # image-left first, both in the face's upper half
    assert left_eye[0] < right_eye[0] and ASTRONAUT[1] < left_eye[1] < ASTRONAUT[1] + 70


def test_the_man_in_camera_is_found():
    boxes = detect_faces(camera()).boxes
    assert len(boxes) == 1 and _frames(boxes[0], CAMERAMAN)


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: im,
        lambda im: im.astype(np.uint16) * 257,
        lambda im: im / 255.0,
        lambda im: im.astype(np.float64),  # floats in 0-255
        lambda im: im.astype(np.int32),
        lambda im: np.dstack([im, np.full(im.shape[:2], 255, np.uint8)]),
        lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY),
        lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)[..., None],
    ],
    ids=["uint8", "uint16", "float-unit", "float-255", "int32", "rgba", "gray", "gray-1-channel"],
)
def test_every_photo_kind_finds_the_same_face(convert):
    expected = detect_faces(astronaut()).boxes
    boxes = detect_faces(convert(astronaut())).boxes
    assert len(boxes) == 1 and np.allclose(boxes, expected, atol=6)


def test_a_6000_pixel_photo_is_searched_down_scaled_and_answered_in_its_own_pixels():
    huge = cv2.resize(astronaut(), (6000, 6000), interpolation=cv2.INTER_LINEAR)
    found = detect_faces(huge)
    scale = 6000 / 512
    assert len(found.boxes) == 1 and _frames(found.boxes[0], ASTRONAUT * scale)
    face = ASTRONAUT * scale
    assert np.all(found.eyes[0] > face[:2]) and np.all(found.eyes[0] < face[:2] + face[2:])


def test_a_photo_without_a_face_gives_nothing():
    for photo in (np.full((200, 300), 128, dtype=np.uint8), np.zeros((10, 10))):
        found = detect_faces(photo)
        assert found.boxes.shape == (0, 4) and found.scores.shape == (0,)


def test_the_cascade_and_a_callable_are_alternatives():
    cascade = detect_faces(astronaut(), detector="cascade")
    assert any(_frames(box, ASTRONAUT) for box in cascade.boxes) and cascade.eyes is None
    assert (cascade.scores == 1).all()

    def two_boxes(photo):
        return np.array([[1.0, 1, 10, 10], [20, 20, 50, 40]]), np.array([0.3, 0.9])

    mine = detect_faces(astronaut(), detector=two_boxes)
    np.testing.assert_array_equal(mine.boxes, [[20, 20, 50, 40], [1, 1, 10, 10]])  # largest first
    np.testing.assert_array_equal(mine.scores, [0.9, 0.3])
    with pytest.raises(ValueError, match="a detector must return boxes"):
        detect_faces(astronaut(), detector=lambda photo: np.zeros((2, 3)))


def test_a_higher_threshold_keeps_fewer_faces():
    assert len(detect_faces(astronaut(), score_threshold=0.99).boxes) == 0
    with pytest.raises(ValueError, match="'score_threshold' parameter of detect_faces"):
        detect_faces(astronaut(), score_threshold=1.5)
    with pytest.raises(ValueError, match="detector must be one of"):
        detect_faces(astronaut(), detector="haar")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((5, 5, 2)), "grayscale"),
        (np.zeros((0, 5)), "empty"),
        (np.array([["a"]]), "numbers"),
        (np.zeros((4, 4), dtype=bool), "numbers"),
        (np.full((4, 4), -1.0), "float pixels must lie in"),
    ],
)
def test_bad_photos(image, message):
    with pytest.raises(ValueError, match=message):
        detect_faces(image)


def _found(photo, keypoints):
    """The detector frames the annotated face: a box centred inside the landmarks' box,
    with a side between half and twice its longer side."""
    face = landmark_boxes(keypoints[None])[0]
    boxes = detect_faces(photo).boxes
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    inside = (np.abs(centres - (face[:2] + face[2:] / 2)) <= face[2:] / 2).all(axis=1)
    ratio = boxes[:, 2:].max(axis=1) / face[2:].max()
    return bool((inside & (ratio >= 0.5) & (ratio <= 2)).any())


def test_yunet_finds_the_faces_of_every_shared_source(youtube_faces, lfpw_path, helen_path, afw_path):
    # A fixed sample of each source keeps this under a minute; benchmarks/faces.py counts
    # every held-out photo.
    lfpw = load_landmark_folder(lfpw_path, crop_size=None)
    helen = load_landmark_folder(helen_path, crop_size=None)
    afw = load_dlib_xml(afw_path / "afw68.xml", crop_size=None)
    for name, faces, step in (
        ("youtube", youtube_faces, 40),
        ("lfpw", lfpw, 10),
        ("helen", helen, 10),
        ("afw", afw, 4),
    ):
        rows = range(0, len(faces.images), step)
        found = [_found(faces.images[i], faces.keypoints[i]) for i in rows]
        assert np.mean(found) >= 0.99, (name, np.mean(found))


def test_the_detector_writes_nothing_to_stderr():
    # OpenCV 5 logs a warning about compute targets when FaceDetectorYN is created: in a
    # user's terminal it reads like a fault. A fresh process, since the detector is made once.
    import subprocess
    import sys

    script = (
        "from skimage.data import astronaut; from skfkd.faces import detect_faces; detect_faces(astronaut())"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
