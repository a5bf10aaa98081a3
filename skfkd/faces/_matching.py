"""Which detected box or predicted face belongs to which annotated face."""

from __future__ import annotations

import numpy as np

from skfkd._framing import landmark_boxes
from skfkd._layout import to_keypoints

__all__ = ["match_faces"]


def matching_box(boxes, face_box):
    """Index of the detector box that frames the annotated face, or None.

    A box frames the face when its centre lies inside the landmarks' box and its side is
    half to twice the landmarks' longer side; the nearest centre wins.
    """
    ratio = boxes[:, 2:].max(axis=1) / face_box[2:].max() if len(boxes) else np.empty(0)
    return nearest_centre_inside(boxes, face_box, (ratio >= 0.5) & (ratio <= 2))


def nearest_centre_inside(boxes, face_box, allowed=True):
    """Index of the box (among ``allowed``) whose centre lies inside ``face_box`` nearest
    to its centre, or None."""
    if len(boxes) == 0:
        return None
    offset = boxes[:, :2] + boxes[:, 2:] / 2 - (face_box[:2] + face_box[2:] / 2)
    inside = (np.abs(offset) <= face_box[2:] / 2).all(axis=1) & allowed
    if not inside.any():
        return None
    return int(np.argmin(np.where(inside, np.linalg.norm(offset, axis=1), np.inf)))


def match_faces(predicted, keypoints):
    """Pick, for each annotated face, the predicted face that frames it.

    Detection-based prediction finds any number of faces per photo, in its own order;
    scoring it against annotations needs the predicted face that belongs to each
    annotated one. A predicted face matches when the centre of its keypoints' box lies
    inside the annotated keypoints' box; the nearest centre wins.

    Parameters
    ----------
    predicted : list of ndarray of shape (n_faces_i, n_keypoints, 2)
        :meth:`FaceLandmarker.predict`'s output, one array per photo.
    keypoints : array-like of shape (n_photos, n_keypoints, 2) or (n_photos, 2 * n_keypoints)
        One annotated face per photo (repeat a photo for each of its faces).

    Returns
    -------
    matched : ndarray of shape (n_photos, n_keypoints, 2)
        The matching predicted face, all NaN where no predicted face matches: the
        detector missed the face. Score the found faces with
        ``~np.isnan(matched).all(axis=(1, 2))`` as a mask, and report that share.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.faces import match_faces
    >>> truth = np.array([[[10.0, 10.0], [20.0, 20.0]]])
    >>> far, near = truth + 50, truth + 1
    >>> match_faces([np.stack([far[0], near[0]])], truth)[0].tolist()
    [[11.0, 11.0], [21.0, 21.0]]
    >>> bool(np.isnan(match_faces([np.empty((0, 2, 2))], truth)).all())
    True
    """
    keypoints = np.asarray(keypoints, dtype=float)
    if keypoints.ndim == 2:
        keypoints = to_keypoints(keypoints)
    if len(predicted) != len(keypoints):
        raise ValueError(f"{len(predicted)} photos predicted but {len(keypoints)} annotated faces")
    matched = np.full(keypoints.shape, np.nan)
    truth_boxes = landmark_boxes(keypoints)
    for i, (faces, truth_box) in enumerate(zip(predicted, truth_boxes)):
        faces = np.asarray(faces, dtype=float)
        if len(faces) == 0:
            continue
        if faces.shape[1:] != keypoints.shape[1:]:
            raise ValueError(
                f"photo {i}: predicted faces of shape {faces.shape[1:]}, annotated {keypoints.shape[1:]}"
            )
        best = nearest_centre_inside(landmark_boxes(faces), truth_box)
        if best is not None:
            matched[i] = faces[best]
    return matched
