"""Faces in photos: find them, frame them as the training crops are framed, and map
keypoints between crops and photos.

:class:`FaceLandmarker` puts a keypoint regressor to work on whole photos; YuNet, the
default face detector, ships with skfkd (``skfkd/_data/yunet``, Apache-2.0).
"""

from skfkd.faces._detect import Detections, detect_faces
from skfkd.faces._framing import crop_faces, landmark_frames, uncrop_keypoints
from skfkd.faces._landmarker import FaceLandmarker, Faces
from skfkd.faces._matching import match_faces
from skfkd.faces._pretrained import load_pretrained, pretrained_model_card
from skfkd.faces._recipes import wild_landmarker

__all__ = [
    "Detections",
    "FaceLandmarker",
    "Faces",
    "crop_faces",
    "detect_faces",
    "landmark_frames",
    "load_pretrained",
    "match_faces",
    "pretrained_model_card",
    "uncrop_keypoints",
    "wild_landmarker",
]
