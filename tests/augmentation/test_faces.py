"""Augmenting synthetic faces keeps every keypoint on the feature it names."""

import numpy as np
import pytest

from skfkd import IBUG_68
from skfkd.augmentation import KeypointAugmenter
from skfkd.datasets import make_faces

LEFT_EYE, RIGHT_EYE = 0, 1  # KAGGLE_15 eye centres: the drawn pupils
HALF = 7  # half side of the window a pupil must be dark in


@pytest.fixture(scope="module")
def faces():
    # No occluders: a patch over a pupil would hide the feature the test looks for.
    return make_faces(40, occlusion=0.0, random_state=0)


def _pupil_scores(images, keypoints, offset=0.0):
    """For each eye keypoint well inside its image, the share of its surrounding window
    darker than the darkest pixel next to it: ~0 when the keypoint sits on the pupil."""
    scores = []
    for image, points in zip(images.astype(float), keypoints, strict=True):
        for eye in (LEFT_EYE, RIGHT_EYE):
            col, row = np.rint(points[eye] + [offset, 0]).astype(int)
            if not (HALF <= row < image.shape[0] - HALF and HALF <= col < image.shape[1] - HALF):
                continue  # rotated or shifted (near) out of the picture
            darkest = image[row - 1 : row + 2, col - 1 : col + 2].min()
            window = image[row - HALF : row + HALF + 1, col - HALF : col + HALF + 1]
            scores.append((window < darkest).mean())
    return np.array(scores)


@pytest.mark.parametrize(
    "params",
    [
        {},  # the defaults
        {"rotation": 45, "scale": (0.7, 1.3), "shift": 0.1, "brightness": 0.5, "contrast": 0.5, "noise": 0.2},
        {"rotation": 0, "scale": (1, 1), "shift": 0, "flip": 1.0},
    ],
)
def test_pupils_stay_under_the_eye_keypoints(faces, params):
    X, y = KeypointAugmenter(**params, n_copies=2, random_state=0).fit_resample(faces.images, faces.target)
    keypoints = y.reshape(len(y), -1, 2)
    scores = _pupil_scores(X, keypoints)
    assert len(scores) > 0.9 * 2 * len(X)
    # The pupil is a small dark disk: hardly any pixel around it is darker than its centre.
    assert scores.max() <= 0.05
    # The check has teeth: keypoints 3 px off the pupil fail it for most eyes.
    assert (_pupil_scores(X, keypoints, offset=3.0) > 0.05).mean() > 0.5


def test_flipped_faces_keep_the_subject_left_eye_on_the_image_right(faces):
    _, y = KeypointAugmenter(rotation=10, flip=1.0, random_state=0).fit_resample(faces.images, faces.target)
    keypoints = y.reshape(len(y), -1, 2)
    # Upright faces (rotation at most 15 + 10 degrees): the left eye has the larger x.
    assert (keypoints[:, LEFT_EYE, 0] > keypoints[:, RIGHT_EYE, 0]).all()


def test_ibug_faces_flip_their_contours():
    faces = make_faces(10, layout=IBUG_68, occlusion=0.0, random_state=1)
    aug = KeypointAugmenter(rotation=0, scale=(1, 1), shift=0, flip=1.0, random_state=0)
    _, y = aug.fit_resample(faces.images, faces.target)
    keypoints = y.reshape(len(y), 68, 2)[10:]
    # iBUG point 36 is the outer corner of the subject's right eye, on the image's left;
    # the jaw starts (point 0) on the image's left too.
    assert (keypoints[:, 36, 0] < keypoints[:, 45, 0]).all()
    assert (keypoints[:, 0, 0] < keypoints[:, 16, 0]).all()
