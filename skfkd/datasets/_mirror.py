"""Mirror images of annotated faces, with their left and right keypoints swapped."""

from __future__ import annotations

import numpy as np

from skfkd._layout import resolve_layout, to_keypoints

__all__ = ["mirror_faces"]


def mirror_faces(images, keypoints, layout=None):
    """Mirror photos left to right, and their keypoints with them.

    Each photo is flipped about its vertical axis (a view, not a copy) and each keypoint
    moves to ``x' = width - 1 - x`` (pixel centres at integers) and takes the label of its
    mirror twin through the layout's flip pairs: the subject's left eye of the mirror
    image is the right eye of the photo. The usual way to double a training set whose
    annotations are mirror-symmetric, as 300-W's are (dlib's 68-point model is trained on
    the 300-W photos and their mirror images); the YouTube Faces markup is not, so
    measure before mirroring it.

    Parameters
    ----------
    images : sequence of ndarray
        Photos ``(h, w)`` or ``(h, w, c)``, one per face.
    keypoints : array-like of shape (n_faces, n_keypoints, 2) or (n_faces, 2 * n_keypoints)
        Keypoints in photo pixels, NaN where not annotated.
    layout : KeypointLayout or None, default=None
        Names the left/right pairs; None picks the built-in layout of that size.

    Returns
    -------
    mirrored_images : list of ndarray
    mirrored_keypoints : ndarray of shape (n_faces, n_keypoints, 2)

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import KAGGLE_15
    >>> from skfkd.datasets import mirror_faces
    >>> photo = np.zeros((10, 20), dtype=np.uint8)
    >>> points = np.tile([[5.0, 4.0]], (15, 1))
    >>> points[0], points[1] = [12.0, 3.0], [6.0, 3.0]  # left eye (image right), right eye
    >>> [mirrored], flipped = mirror_faces([photo], points[None], KAGGLE_15)
    >>> mirrored.shape, flipped[0, 0].tolist(), flipped[0, 1].tolist()
    ((10, 20), [13.0, 3.0], [7.0, 3.0])
    """
    keypoints = np.asarray(keypoints, dtype=float)
    if keypoints.ndim == 2:
        keypoints = to_keypoints(keypoints)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or len(keypoints) != len(images):
        raise ValueError(
            f"keypoints need shape ({len(images)}, n_keypoints, 2), one face per photo; got {keypoints.shape}"
        )
    layout = resolve_layout(layout, keypoints.shape[1])
    if not layout.flip_pairs:
        raise ValueError(
            f"layout {layout.name!r} has no flip pairs: a mirror image's keypoints cannot be labelled"
        )
    mirrored_images = [np.asarray(image)[:, ::-1] for image in images]
    widths = np.array([np.asarray(image).shape[1] for image in images], dtype=float)
    mirrored = keypoints[:, layout.flip_permutation].copy()
    mirrored[..., 0] = widths[:, None] - 1 - mirrored[..., 0]
    return mirrored_images, mirrored
