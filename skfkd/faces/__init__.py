"""Faces in photos: find them, frame them as the training crops are framed, and map
keypoints between crops and photos.

:class:`FaceLandmarker` puts a keypoint regressor to work on whole photos.
"""

from skfkd.faces._detect import detect_faces
from skfkd.faces._framing import crop_faces, uncrop_keypoints
from skfkd.faces._landmarker import FaceLandmarker, match_faces
from skfkd.faces._pretrained import load_pretrained, pretrained_model_card

__all__ = [
    "FaceLandmarker",
    "crop_faces",
    "detect_faces",
    "load_pretrained",
    "match_faces",
    "pretrained_model_card",
    "uncrop_keypoints",
]
