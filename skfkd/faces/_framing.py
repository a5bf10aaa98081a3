"""Crops from photos and keypoints back to photos: the one framing shared by the loaders
(training) and :class:`~skfkd.faces.FaceLandmarker` (inference)."""

from __future__ import annotations

import numpy as np

from skfkd._crop import (
    DEFAULT_CROP_MARGIN,
    crop_faces_from_boxes,
    keypoints_from_crop,
    square_boxes,
)
from skfkd._layout import to_keypoints, to_targets
from skfkd.faces._detect import _check_photo

__all__ = ["crop_faces", "uncrop_keypoints"]


def _as_photos(images) -> list:
    """A list of checked photos from a sequence (list, tuple, object array) or a stack."""
    if isinstance(images, np.ndarray) and images.dtype != object:
        if images.ndim not in (3, 4):
            raise ValueError(
                "images must be a sequence of photos, or a stack (n, h, w) or (n, h, w, c); "
                f"got an array of shape {images.shape} (pass [photo] for a single photo)"
            )
    elif not isinstance(images, (list, tuple, np.ndarray)):
        raise TypeError(
            f"images must be a list of photos (pass [photo] for a single photo); got {type(images).__name__}"
        )
    return [_check_photo(image, f"image {i}") for i, image in enumerate(images)]


def crop_faces(images, boxes, *, size=96, margin=DEFAULT_CROP_MARGIN):
    """Cut faces out of photos, framed as skfkd's training crops are framed.

    Each face box becomes a square crop box with the same centre whose side is the box's
    longer side grown by ``margin`` of it on every side. Given the keypoints' bounding
    boxes, this reproduces the crops of :func:`~skfkd.datasets.load_youtube_faces` and
    :func:`~skfkd.datasets.load_landmark_folder` exactly.

    Parameters
    ----------
    images : sequence of ndarray
        One photo per face (repeat a photo for each of its faces): grayscale, RGB or
        RGBA, uint8, uint16 or float in [0, 1], any size.
    boxes : array-like of shape (n_faces, 4)
        Face boxes ``[left, top, width, height]`` in photo pixels.
    size : int, default=96
        Side of the square crops.
    margin : float, default=0.1
        Margin around each box, as a fraction of its longer side.

    Returns
    -------
    X : ndarray of shape (n_faces, size * size)
        Grayscale uint8 crops in skfkd's ``X`` convention; parts outside a photo repeat
        its edge.
    crop_boxes : ndarray of shape (n_faces, 4)
        The square boxes that were cut out: what :func:`uncrop_keypoints` needs.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.faces import crop_faces
    >>> photo = np.zeros((200, 300, 3), dtype=np.uint8)
    >>> X, crop_boxes = crop_faces([photo], [[100, 50, 80, 100]], size=48, margin=0.1)
    >>> X.shape, crop_boxes.tolist()
    ((1, 2304), [[80.0, 40.0, 120.0, 120.0]])
    """
    photos = _as_photos(images)
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an int >= 8; got {size!r}")
    boxes = (
        np.asarray(boxes, dtype=float).reshape(-1, 4) if len(photos) == 0 else np.asarray(boxes, dtype=float)
    )
    if boxes.shape != (len(photos), 4):
        raise ValueError(
            f"boxes need shape ({len(photos)}, 4), one [left, top, width, height] per photo; got {boxes.shape}"
        )
    crop_boxes = square_boxes(boxes, margin)
    crops = crop_faces_from_boxes(photos, crop_boxes, size)
    return crops.reshape(len(crops), -1), crop_boxes


def uncrop_keypoints(y, crop_boxes, *, size=96):
    """Map keypoints from crop pixels back to photo pixels.

    Parameters
    ----------
    y : array-like of shape (n_faces, 2 * n_keypoints) or (n_faces, n_keypoints, 2)
        Keypoints in crop pixels, such as a regressor's predictions on
        :func:`crop_faces`'s ``X``.
    crop_boxes : array-like of shape (n_faces, 4)
        The crop boxes :func:`crop_faces` returned.
    size : int, default=96
        The crops' side.

    Returns
    -------
    keypoints : ndarray of the same shape as ``y``
        In photo pixels.

    Examples
    --------
    >>> from skfkd.faces import uncrop_keypoints
    >>> uncrop_keypoints([[23.5, 23.5]], [[80.0, 40.0, 120.0, 120.0]], size=48).tolist()
    [[140.0, 100.0]]
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 2:
        return to_targets(keypoints_from_crop(to_keypoints(y), crop_boxes, size))
    if y.ndim == 3 and y.shape[-1] == 2:
        return keypoints_from_crop(y, crop_boxes, size)
    raise ValueError(
        f"y must be (n_faces, 2 * n_keypoints) or (n_faces, n_keypoints, 2); got shape {y.shape}"
    )
