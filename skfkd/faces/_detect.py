"""Face detection: YuNet (a CNN shipped with skfkd, run by OpenCV) by default, scikit-image's
LBP cascade as an alternative, or a function of the user's."""

from __future__ import annotations

import contextlib
import threading
from functools import lru_cache
from importlib.resources import files
from typing import NamedTuple

import cv2
import numpy as np

from skfkd._images import check_photo, to_bgr, to_gray
from skfkd._params import Integral, Interval, Real, check_params

__all__ = ["Detections", "detect_faces"]

YUNET_FILE = "face_detection_yunet_2023mar.onnx"
DETECTORS = ("yunet", "cascade")
# YuNet found every annotated face of the shared YouTube, LFPW, HELEN and AFW photos at
# scores of 0.7 and above (benchmarks/results/faces.md); 0.6 leaves some room for harder photos.
DEFAULT_SCORE_THRESHOLD = 0.6
# OpenCV's documentation recommends YuNet input of about 640 pixels on the longer side.
DEFAULT_MAX_SIDE = 640
_NMS_THRESHOLD = 0.3
_TOP_K = 5000

_DETECT_CONSTRAINTS = {
    "score_threshold": [Interval(Real, 0, 1, closed="both")],
    "max_side": [Interval(Integral, 32, None, closed="left"), None],
}


class Detections(NamedTuple):
    """The faces a detector found in one photo, largest first.

    Attributes
    ----------
    boxes : ndarray of shape (n_faces, 4)
        ``[left, top, width, height]`` in photo pixels.
    scores : ndarray of shape (n_faces,)
        The detector's confidence in each face, in [0, 1] (1 for detectors that give
        none, such as the cascade).
    eyes : ndarray of shape (n_faces, 2, 2) or None
        The centres of the eyes, image-left one first, in photo pixels (YuNet finds
        them), or None: faces are then framed upright until the landmarks are known.
    """

    boxes: np.ndarray
    scores: np.ndarray
    eyes: np.ndarray | None


def detect_faces(
    photo, *, detector="yunet", score_threshold=DEFAULT_SCORE_THRESHOLD, max_side=DEFAULT_MAX_SIDE
):
    """Find the faces in a photo.

    Parameters
    ----------
    photo : ndarray of shape (h, w), (h, w, 3) or (h, w, 4)
        Grayscale, RGB or RGBA; uint8, uint16, other integers in 0-255, or floats in
        [0, 1] or 0-255 (see :ref:`photos`).
    detector : {"yunet", "cascade"} or callable, default="yunet"
        ``"yunet"``: YuNet, a small CNN face detector shipped with skfkd (Apache-2.0,
        ``skfkd/_data/yunet``) and run by OpenCV's ``FaceDetectorYN``; it finds frontal
        to profile faces and gives a score and the eyes of each. ``"cascade"``:
        scikit-image's LBP frontal-face cascade (upright, near-frontal faces only; no
        score). A callable takes the photo and returns boxes ``(n, 4)``, ``(boxes,
        scores)``, or :class:`Detections`.
    score_threshold : float, default=0.6
        Faces YuNet scores below this are dropped (ignored by the other detectors).
    max_side : int or None, default=640
        Photos whose longer side exceeds this are searched at that size (YuNet's
        design size; the search time grows with the area) and the results mapped back
        to the photo's pixels. None searches at full size.

    Returns
    -------
    detections : Detections
        ``boxes``, ``scores`` and ``eyes``, largest face first.

    Examples
    --------
    >>> from skimage import data
    >>> from skfkd.faces import detect_faces
    >>> found = detect_faces(data.astronaut())
    >>> len(found.boxes), bool(found.scores[0] > 0.9)
    (1, True)
    >>> [round(float(v), -1) for v in found.boxes[0]]  # left, top, width, height
    [180.0, 60.0, 90.0, 110.0]
    """
    check_params(
        _DETECT_CONSTRAINTS, {"score_threshold": score_threshold, "max_side": max_side}, "detect_faces"
    )
    photo = check_photo(photo)
    if callable(detector):
        found = _user_detections(detector(photo))
    elif isinstance(detector, str) and detector in DETECTORS:
        scale = 1.0
        if max_side is not None and max(photo.shape[:2]) > max_side:
            scale = max_side / max(photo.shape[:2])
            size = (max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale)))
            photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        found = _yunet(photo, score_threshold) if detector == "yunet" else _cascade_detections(photo)
        found = Detections(
            found.boxes / scale, found.scores, None if found.eyes is None else found.eyes / scale
        )
    else:
        raise ValueError(f"detector must be one of {DETECTORS} or a callable; got {detector!r}")
    order = np.argsort(-found.boxes[:, 2] * found.boxes[:, 3], kind="stable")
    return Detections(
        found.boxes[order], found.scores[order], None if found.eyes is None else found.eyes[order]
    )


def yunet_path():
    """The shipped YuNet model file."""
    return files("skfkd") / "_data" / "yunet" / YUNET_FILE


_local = threading.local()


@contextlib.contextmanager
def _opencv_quiet():
    """OpenCV 5 warns on stderr, at every detector's creation, that its new graph engine
    ignores the compute target FaceDetectorYN asks for (the CPU, which it uses anyway):
    noise in every user's output. Only errors are shown meanwhile."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def _yunet(photo, score_threshold):
    # One FaceDetectorYN per thread: it keeps the input size between calls.
    model = getattr(_local, "yunet", None)
    if model is None:
        path = yunet_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"skfkd's face detector {path} is missing: the installation is incomplete"
            )
        with _opencv_quiet():
            model = _local.yunet = cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), 0.0, _NMS_THRESHOLD, _TOP_K
            )
    model.setInputSize((photo.shape[1], photo.shape[0]))
    model.setScoreThreshold(float(score_threshold))
    _, rows = model.detect(to_bgr(photo))
    rows = np.empty((0, 15)) if rows is None else rows.astype(float)
    # YuNet's 5 points start with the two eyes; image-left first whatever its order.
    eyes = rows[:, 4:8].reshape(-1, 2, 2)
    swap = eyes[:, 0, 0] > eyes[:, 1, 0]
    eyes[swap] = eyes[swap, ::-1]
    return Detections(rows[:, :4], rows[:, 14], eyes)


@lru_cache(maxsize=1)
def _cascade():
    # Loading the cascade parses an XML file; one instance serves every call.
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def _cascade_detections(photo, min_size=24, min_neighbors=2):
    gray = to_gray(photo)
    if min(gray.shape) < min_size:
        return Detections(np.empty((0, 4)), np.empty(0), None)
    found = _cascade().detect_multi_scale(
        np.ascontiguousarray(gray, dtype=np.float32) / 255,
        scale_factor=1.1,
        step_ratio=1,
        min_size=(min_size, min_size),
        max_size=gray.shape,
        min_neighbor_number=min_neighbors,
    )
    boxes = np.array([[d["c"], d["r"], d["width"], d["height"]] for d in found], dtype=float).reshape(-1, 4)
    boxes = _suppress_overlaps(boxes)
    return Detections(boxes, np.ones(len(boxes)), None)


def _user_detections(result):
    """A user detector's result as Detections: boxes, (boxes, scores) or Detections."""
    if isinstance(result, Detections):
        boxes, scores, eyes = result
    elif isinstance(result, tuple) and len(result) == 2:
        (boxes, scores), eyes = result, None
    else:
        boxes, scores, eyes = result, None, None
    boxes = np.asarray(boxes, dtype=float)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all() or (boxes[:, 2:] <= 0).any():
        raise ValueError(
            "a detector must return boxes (n, 4) as [left, top, width, height] with positive sides, "
            f"(boxes, scores), or Detections; got boxes of shape {boxes.shape}"
        )
    scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, dtype=float).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"the detector returned {len(boxes)} boxes but {len(scores)} scores")
    if eyes is not None:
        eyes = np.asarray(eyes, dtype=float).reshape(len(boxes), 2, 2)
    return Detections(boxes, scores, eyes)


def _suppress_overlaps(boxes) -> np.ndarray:
    """Keep the largest of boxes that cover the same face."""
    order = np.argsort(-boxes[:, 2] * boxes[:, 3], kind="stable")
    kept = []
    for box in boxes[order]:
        if all(overlap_of_smaller(box, other) <= 1 / 3 for other in kept):
            kept.append(box)
    return np.array(kept).reshape(-1, 4)


def overlap_of_smaller(a, b) -> float:
    """The area two boxes share, as a fraction of the smaller one's."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a[2] * a[3], b[2] * b[3])
