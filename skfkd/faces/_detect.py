"""Face detection with scikit-image's bundled LBP frontal-face cascade (no download)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from skimage.transform import rescale

from skfkd._crop import _to_gray

__all__ = ["detect_faces"]


@lru_cache(maxsize=1)
def _cascade():
    # Loading the cascade parses an XML file; one instance serves every call.
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def _check_photo(image, where="image") -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == object or image.dtype == bool or not np.issubdtype(image.dtype, np.number):
        raise ValueError(
            f"{where} must hold numbers (uint8, uint16 or float pixels); got dtype {image.dtype}"
        )
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (1, 3, 4))):
        raise ValueError(
            f"{where} must be a grayscale (h, w), RGB (h, w, 3) or RGBA (h, w, 4) photo; got shape {image.shape}"
        )
    if min(image.shape[:2]) < 1:
        raise ValueError(f"{where} is empty: shape {image.shape}")
    return image


def detect_faces(image, *, scale_factor=1.1, min_neighbors=2, min_size=24, max_side=480):
    """Find frontal faces in a photo with scikit-image's LBP cascade.

    The cascade ships with scikit-image (``skimage.data.lbp_frontal_face_cascade_filename``);
    nothing is downloaded. It finds upright, roughly frontal faces; strong profiles and
    faces smaller than ``min_size`` pixels (after down-scaling) are missed.

    Parameters
    ----------
    image : ndarray of shape (h, w), (h, w, 3) or (h, w, 4)
        Grayscale, RGB or RGBA; uint8, uint16 or float in [0, 1].
    scale_factor : float, default=1.1
        Step between the window sizes searched; smaller finds more faces, more slowly.
    min_neighbors : int, default=2
        Overlapping raw detections a face needs; larger means fewer false faces.
    min_size : int, default=24
        Smallest face side searched, in pixels of the (down-scaled) photo.
    max_side : int or None, default=480
        Photos whose longer side exceeds this are down-scaled for the search (the search
        time grows with the area); boxes are returned in the original pixels. None
        searches at full resolution.

    Returns
    -------
    boxes : ndarray of shape (n_faces, 4)
        ``[left, top, width, height]`` in photo pixels, largest face first. Boxes that
        overlap a larger one by more than a third of the smaller are dropped.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from skfkd.faces import detect_faces
    >>> boxes = detect_faces(astronaut())
    >>> boxes.shape[1]
    4

    The astronaut's face (left 175, top 50, by eye) is among the boxes; the other boxes
    are false alarms, which a stricter ``min_neighbors`` (or
    :class:`FaceLandmarker`'s face check) removes:

    >>> any(abs(left - 175) < 25 and abs(top - 50) < 25 for left, top, _, _ in boxes)
    True
    >>> len(detect_faces(astronaut(), min_neighbors=8)) < len(boxes)
    True
    """
    image = _check_photo(image)
    if scale_factor <= 1:
        raise ValueError(f"scale_factor must be > 1; got {scale_factor}")
    if min_size < 8:
        raise ValueError(f"min_size must be at least 8 pixels; got {min_size}")
    gray = _to_gray(image)
    scale = 1.0
    if max_side is not None and max(gray.shape) > max_side:
        scale = max_side / max(gray.shape)
        gray = rescale(gray, scale, anti_aliasing=True)
    if min(gray.shape) < min_size:
        return np.empty((0, 4))
    found = _cascade().detect_multi_scale(
        np.ascontiguousarray(gray, dtype=np.float32),
        scale_factor=scale_factor,
        step_ratio=1,
        min_size=(min_size, min_size),
        max_size=gray.shape,
        min_neighbor_number=min_neighbors,
    )
    boxes = np.array([[d["c"], d["r"], d["width"], d["height"]] for d in found], dtype=float).reshape(-1, 4)
    return _suppress_overlaps(boxes / scale)


def _suppress_overlaps(boxes) -> np.ndarray:
    """Keep the largest of boxes that cover the same face."""
    order = np.argsort(-boxes[:, 2] * boxes[:, 3], kind="stable")
    kept = []
    for box in boxes[order]:
        if all(_overlap_of_smaller(box, other) <= 1 / 3 for other in kept):
            kept.append(box)
    return np.array(kept).reshape(-1, 4)


def _overlap_of_smaller(a, b) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a[2] * a[3], b[2] * b[3])
