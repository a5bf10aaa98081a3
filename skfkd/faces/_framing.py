"""Face crops from photos and keypoints back to photos, in the one framing that training
and inference share (:mod:`skfkd._framing` owns it)."""

from __future__ import annotations

import numpy as np

from skfkd._framing import (
    DEFAULT_CROP_MARGIN,
    DEFAULT_CROP_SIZE,
    check_framing,
    crop_photos,
    frames_from_keypoints,
    keypoints_from_crop,
)
from skfkd._images import as_photo_list
from skfkd._layout import resolve_layout, to_keypoints, to_targets

__all__ = ["crop_faces", "landmark_frames", "uncrop_keypoints"]


def landmark_frames(keypoints, *, margin=DEFAULT_CROP_MARGIN, align=True):
    """The frames that skfkd cuts faces along, from their landmarks.

    A frame is a row ``[centre_x, centre_y, side, angle]`` in photo pixels: a square turned
    by ``angle`` degrees. With ``align``, the angle is the tilt of the eye line (the
    layout's ``interocular`` points: the outer eye corners of the 68-point layout, the
    eye centres of the 15-point one) and the square holds the landmarks in those upright
    coordinates; otherwise the square is the axis-aligned box of the landmarks. Either way
    its side is the landmarks' longer extent grown by ``margin`` of it on every side.
    :class:`FaceLandmarker` trains and refines on these frames.

    Parameters
    ----------
    keypoints : array-like of shape (n_faces, n_keypoints, 2) or (n_faces, 2 * n_keypoints)
        Landmarks in photo pixels, NaN where not annotated.
    margin : float, default=0.1
        Margin around the landmarks, as a fraction of their longer extent.
    align : bool, default=True
        Turn the frames by the eye line; needs 15 or 68 keypoints (a built-in layout).

    Returns
    -------
    frames : ndarray of shape (n_faces, 4)

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.faces import landmark_frames
    >>> face = np.zeros((1, 68, 2))
    >>> face[0, :, 0], face[0, :, 1] = np.linspace(0, 100, 68), np.linspace(0, 100, 68)
    >>> landmark_frames(face, margin=0.0, align=False).round(1).tolist()
    [[50.0, 50.0, 100.0, 0.0]]
    """
    keypoints = np.asarray(keypoints, dtype=float)
    if keypoints.ndim == 2:
        keypoints = to_keypoints(keypoints)
    eyes = resolve_layout(None, keypoints.shape[1]).interocular if align else None
    return frames_from_keypoints(keypoints, margin, eyes)


def crop_faces(images, frames, *, size=DEFAULT_CROP_SIZE, colour=False):
    """Cut faces out of photos along their frames, as skfkd's training crops are cut.

    Each frame (:func:`landmark_frames`) is turned upright and resampled to
    ``size x size`` grayscale (or RGB) pixels with one affine warp; a frame much larger than the
    crop is first shrunk with an area filter, and parts outside a photo repeat its edge.

    Parameters
    ----------
    images : sequence of ndarray or file paths
        One photo per face (repeat a photo for each of its faces): grayscale, RGB or
        RGBA; uint8, uint16 or float; any size.
    frames : array-like of shape (n_faces, 4)
        ``[centre_x, centre_y, side, angle]`` per face, in photo pixels and degrees.
    size : int, default=96
        Side of the square crops.
    colour : bool, default=False
        RGB crops (a gray photo's value in all three channels), as
        :class:`FaceLandmarker` cuts them with ``colour=True``.

    Returns
    -------
    X : ndarray of shape (n_faces, size * size) or (n_faces, size, size, 3)
        uint8 crops in skfkd's ``X`` convention: grayscale rows, or with ``colour`` a
        stack of RGB images.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.faces import crop_faces
    >>> photo = np.zeros((200, 300, 3), dtype=np.uint8)
    >>> photo[90:110, 130:150] = 255  # a white square centred on (139.5, 99.5)
    >>> X = crop_faces([photo], [[139.5, 99.5, 40.0, 45.0]], size=40)
    >>> X.shape, int(X.reshape(40, 40)[20, 20])
    ((1, 1600), 255)
    >>> crop_faces([photo], [[139.5, 99.5, 40.0, 45.0]], size=40, colour=True).shape
    (1, 40, 40, 3)
    """
    photos = as_photo_list(images)
    check_framing(size, 0.0, "crop_faces")
    crops = crop_photos(photos, frames, size, colour=bool(colour))
    return crops if colour else crops.reshape(len(crops), -1)


def uncrop_keypoints(y, frames, *, size=DEFAULT_CROP_SIZE):
    """Map keypoints from crop pixels back to photo pixels.

    Parameters
    ----------
    y : array-like of shape (n_faces, 2 * n_keypoints) or (n_faces, n_keypoints, 2)
        Keypoints in crop pixels, such as a regressor's predictions on
        :func:`crop_faces`'s ``X``.
    frames : array-like of shape (n_faces, 4)
        The frames the crops were cut along.
    size : int, default=96
        The crops' side.

    Returns
    -------
    keypoints : ndarray of the same shape as ``y``
        In photo pixels.

    Examples
    --------
    >>> from skfkd.faces import uncrop_keypoints
    >>> uncrop_keypoints([[23.5, 23.5]], [[140.0, 100.0, 120.0, 0.0]], size=48).tolist()
    [[140.0, 100.0]]
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 2:
        return to_targets(keypoints_from_crop(to_keypoints(y), frames, size))
    if y.ndim == 3 and y.shape[-1] == 2:
        return keypoints_from_crop(y, frames, size)
    raise ValueError(
        f"y must be (n_faces, 2 * n_keypoints) or (n_faces, n_keypoints, 2); got shape {y.shape}"
    )
