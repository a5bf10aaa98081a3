"""Face framing, the one owner of it: how a face is cut out of its photo and how keypoints
move between the photo and the crop.

A face's *frame* is a row ``[centre_x, centre_y, side, angle]`` in photo pixels: a square
of ``side`` pixels centred on ``(centre_x, centre_y)``, turned by ``angle`` degrees (the
tilt of the face's eye line, measured from the image's x axis towards its y axis, so a head
tilted towards its right shoulder as seen in the image has a positive angle). Cropping
turns the square upright and resamples it to ``size x size`` grayscale (or RGB) pixels with one
affine warp; an angle of 0 is the axis-aligned square box.

Coordinates follow the package convention: ``x`` is the column, ``y`` the row, and pixel
centres sit at integers (OpenCV's convention too). Crop pixel ``(u, v)`` then shows photo
point ``centre + R(angle) @ ((u, v) - (size - 1) / 2) * side / size``.

The framing of a face from its landmarks (training, and the re-framing passes at
inference) is :func:`frames_from_keypoints`: the square around the landmarks' bounding
box in the eye-aligned coordinates, its side the box's longer side grown by ``margin`` on
every side. Every skfkd component frames faces with the functions here, so training and
inference crops are cut one way.
"""

from __future__ import annotations

from numbers import Integral, Real

import cv2
import numpy as np

from skfkd._images import to_gray
from skfkd._params import Interval, check_params

__all__ = [
    "CROP_MARGIN",
    "CROP_SIZE",
    "DEFAULT_CROP_MARGIN",
    "DEFAULT_CROP_SIZE",
    "check_framing",
    "crop_photos",
    "eye_angles",
    "frames_from_boxes",
    "frames_from_keypoints",
    "frame_offset",
    "jitter_frames",
    "keypoints_from_crop",
    "keypoints_to_crop",
    "landmark_boxes",
    "shifted_frames",
]

DEFAULT_CROP_SIZE = 96
# 0.1 measured better than 0.25 for the regressor on held-out YouTube identities (NME
# 5.68% against 5.91%): the face fills more of the crop.
DEFAULT_CROP_MARGIN = 0.1
# The constraints every component checks crop_size and crop_margin (or size, margin) with.
CROP_SIZE = Interval(Integral, 8, 1024, closed="both")
CROP_MARGIN = Interval(Real, 0, 1, closed="both")
# Down-scaling by more than this first shrinks the region with an area filter, so that
# the bilinear warp does not alias fine texture (a 600-pixel face into 96 pixels).
_MAX_BILINEAR_SHRINK = 1.5


def check_framing(size, margin, owner):
    """Raise naming the parameter when ``size`` or ``margin`` is not a valid framing."""
    check_params(
        {"crop_size": [CROP_SIZE], "crop_margin": [CROP_MARGIN]},
        {"crop_size": size, "crop_margin": margin},
        owner,
    )


def landmark_boxes(keypoints) -> np.ndarray:
    """The bounding box ``[left, top, width, height]`` of each face's annotated keypoints.

    NaN (unannotated) points are ignored; a face with no annotated point has no box. A
    single point (or a flat line) still gets a box of at least one pixel a side.
    """
    keypoints = _as_faces(keypoints)
    empty = np.isnan(keypoints).all(axis=(1, 2))
    if empty.any():
        raise ValueError(f"faces {np.flatnonzero(empty)[:10].tolist()} have no annotated keypoint to frame")
    low = np.nanmin(keypoints, axis=1)
    size = np.maximum(np.nanmax(keypoints, axis=1) - low, 1.0)
    return np.column_stack([low, size])


def eye_angles(keypoints, eyes) -> np.ndarray:
    """The tilt (degrees) of each face's eye line, from the image-left eye to the image-right one.

    ``eyes`` names two keypoints (a layout's ``interocular`` pair: the outer eye corners
    of the 68-point layout, the eye centres of the 15-point one). A face where either is
    not annotated gets 0 (no rotation).
    """
    keypoints = _as_faces(keypoints)
    first, second = keypoints[:, eyes[0]], keypoints[:, eyes[1]]
    left, right = (
        np.where((first[:, :1] <= second[:, :1]), first, second),
        np.where((first[:, :1] <= second[:, :1]), second, first),
    )
    delta = right - left
    angles = np.degrees(np.arctan2(delta[:, 1], delta[:, 0]))
    return np.where(np.isfinite(angles), angles, 0.0)


def frames_from_boxes(boxes, margin=DEFAULT_CROP_MARGIN, angles=None) -> np.ndarray:
    """Frames around face boxes ``[left, top, width, height]``: same centre, the longer side
    grown by ``margin`` of it on every side, turned by ``angles`` (degrees; None: 0)."""
    boxes = _check_boxes(boxes)
    check_params({"margin": [CROP_MARGIN]}, {"margin": margin}, "frames_from_boxes")
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    side = boxes[:, 2:].max(axis=1) * (1 + 2 * margin)
    angles = (
        np.zeros(len(boxes)) if angles is None else np.broadcast_to(np.asarray(angles, float), len(boxes))
    )
    return np.column_stack([centre, side, angles])


def frames_from_keypoints(keypoints, margin=DEFAULT_CROP_MARGIN, eyes=None) -> np.ndarray:
    """The landmark framing: frames whose square holds each face's keypoints.

    With ``eyes`` (two keypoint indices), each frame is turned by the eye line's tilt
    (:func:`eye_angles`) and the square is the keypoints' bounding box in those upright
    coordinates; without, it is the axis-aligned bounding box. Either way the side is the
    box's longer side grown by ``margin`` of it on every side.
    """
    keypoints = _as_faces(keypoints)
    angles = np.zeros(len(keypoints)) if eyes is None else eye_angles(keypoints, eyes)
    # The keypoints in coordinates turned upright about the origin; their box there,
    # turned back, gives the frame's centre.
    cos, sin = np.cos(np.radians(angles))[:, None], np.sin(np.radians(angles))[:, None]
    x, y = keypoints[..., 0], keypoints[..., 1]
    upright = np.stack([cos * x + sin * y, -sin * x + cos * y], axis=-1)
    boxes = landmark_boxes(upright)
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    cx = cos[:, 0] * centre[:, 0] - sin[:, 0] * centre[:, 1]
    cy = sin[:, 0] * centre[:, 0] + cos[:, 0] * centre[:, 1]
    check_params({"margin": [CROP_MARGIN]}, {"margin": margin}, "frames_from_keypoints")
    side = boxes[:, 2:].max(axis=1) * (1 + 2 * margin)
    return np.column_stack([cx, cy, side, angles])


def _crop_transforms(frames, size) -> np.ndarray:
    """``(n, 2, 3)`` affine maps from photo pixels to crop pixels."""
    frames = _check_frames(frames)
    scale = size / frames[:, 2]
    radians = np.radians(frames[:, 3])
    cos, sin = np.cos(radians) * scale, np.sin(radians) * scale
    centre = (size - 1) / 2
    cx, cy = frames[:, 0], frames[:, 1]
    transforms = np.empty((len(frames), 2, 3))
    transforms[:, 0] = np.column_stack([cos, sin, centre - cos * cx - sin * cy])
    transforms[:, 1] = np.column_stack([-sin, cos, centre + sin * cx - cos * cy])
    return transforms


def keypoints_to_crop(keypoints, frames, size) -> np.ndarray:
    """Keypoints ``(n, k, 2)`` from photo pixels to the crop pixels of their frames."""
    keypoints = _as_faces(keypoints)
    transforms = _crop_transforms(frames, size)
    if len(transforms) != len(keypoints):
        raise ValueError(f"{len(keypoints)} faces of keypoints but {len(transforms)} frames")
    return np.einsum("nij,nkj->nki", transforms[:, :, :2], keypoints) + transforms[:, None, :, 2]


def keypoints_from_crop(keypoints, frames, size) -> np.ndarray:
    """Keypoints ``(n, k, 2)`` from crop pixels back to photo pixels; inverse of
    :func:`keypoints_to_crop`."""
    keypoints = _as_faces(keypoints)
    transforms = _crop_transforms(frames, size)
    if len(transforms) != len(keypoints):
        raise ValueError(f"{len(keypoints)} faces of keypoints but {len(transforms)} frames")
    linear = np.linalg.inv(transforms[:, :, :2])
    shifted = keypoints - transforms[:, None, :, 2]
    return np.einsum("nij,nkj->nki", linear, shifted)


def crop_photos(photos, frames, size, *, colour=False) -> np.ndarray:
    """Cut each photo's frame out as ``(n, size, size)`` uint8 grayscale, or with ``colour``
    as ``(n, size, size, 3)`` RGB (a gray photo's value in all three): one affine warp per
    face (bilinear, the photo's edge repeated outside it), after an area-filtered shrink of
    the region under the frame when it is much larger than the crop.

    ``photos`` are checked photos (:func:`skfkd._images.check_photo`), one per frame; a
    photo repeated for several faces is converted once.
    """
    transforms = _crop_transforms(frames, size)
    if len(transforms) != len(photos):
        raise ValueError(f"{len(photos)} photos but {len(transforms)} frames")
    frames = np.asarray(frames, dtype=float)
    crops = np.empty((len(photos), size, size, 3) if colour else (len(photos), size, size), dtype=np.uint8)
    converted = {}
    for i, (photo, transform, frame) in enumerate(zip(photos, transforms, frames)):
        source = converted.get(id(photo))
        if source is None:
            source = converted[id(photo)] = _as_rgb(photo) if colour else to_gray(photo)
        region, transform = _region_under(source, frame, transform, size)
        crops[i] = cv2.warpAffine(
            region, transform, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    return crops


def _as_rgb(photo):
    return np.ascontiguousarray(photo) if photo.ndim == 3 else cv2.cvtColor(photo, cv2.COLOR_GRAY2RGB)


def _region_under(image, frame, transform, size):
    """The part of ``image`` (gray or RGB) that the frame covers (shrunk when the frame is
    much larger than the crop) and the transform from it to the crop."""
    shrink = frame[2] / size
    if shrink <= _MAX_BILINEAR_SHRINK:
        return image, transform
    # The rotated square's bounding box, with a few pixels for the filters' reach.
    half = frame[2] / 2 * (abs(np.cos(np.radians(frame[3]))) + abs(np.sin(np.radians(frame[3])))) + 2 * shrink
    height, width = image.shape[:2]
    left = int(np.clip(np.floor(frame[0] - half), 0, width - 1))
    top = int(np.clip(np.floor(frame[1] - half), 0, height - 1))
    right = int(np.clip(np.ceil(frame[0] + half) + 1, left + 1, width))
    bottom = int(np.clip(np.ceil(frame[1] + half) + 1, top + 1, height))
    region = image[top:bottom, left:right]
    out_width = max(1, round(region.shape[1] / shrink))
    out_height = max(1, round(region.shape[0] / shrink))
    small = cv2.resize(region, (out_width, out_height), interpolation=cv2.INTER_AREA)
    # small pixel (a, b) covers region pixels around ((a + 0.5) * fx - 0.5, ...).
    fx, fy = region.shape[1] / out_width, region.shape[0] / out_height
    to_region = np.array([[fx, 0.0, 0.5 * fx - 0.5 + left], [0.0, fy, 0.5 * fy - 0.5 + top]])
    linear = transform[:, :2] @ to_region[:, :2]
    offset = transform[:, :2] @ to_region[:, 2] + transform[:, 2]
    return small, np.column_stack([linear, offset])


def _as_faces(keypoints) -> np.ndarray:
    keypoints = np.asarray(keypoints, dtype=float)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints need shape (n_faces, n_keypoints, 2); got {keypoints.shape}")
    return keypoints


def _check_boxes(boxes) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=float)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes need shape (n_faces, 4) as [left, top, width, height]; got {boxes.shape}")
    if not np.isfinite(boxes).all() or (boxes[:, 2:] <= 0).any():
        raise ValueError("boxes need finite coordinates and positive width and height")
    return boxes


def _check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames, dtype=float)
    if frames.size == 0:
        return frames.reshape(0, 4)
    if frames.ndim != 2 or frames.shape[1] != 4:
        raise ValueError(
            f"frames need shape (n_faces, 4) as [centre_x, centre_y, side, angle]; got {frames.shape}"
        )
    if not np.isfinite(frames).all() or (frames[:, 2] <= 0).any():
        raise ValueError("frames need finite values and a positive side")
    return frames


def frame_offset(detected, landmarks):
    """``[dx, dy, log_scale, turn]`` from a detection's frame to a landmark frame."""
    radians = np.radians(detected[3])
    shift = (landmarks[:2] - detected[:2]) / detected[2]
    along = np.cos(radians) * shift[0] + np.sin(radians) * shift[1]
    across = -np.sin(radians) * shift[0] + np.cos(radians) * shift[1]
    turn = (landmarks[3] - detected[3] + 180) % 360 - 180
    return np.array([along, across, np.log(landmarks[2] / detected[2]), turn])


def jitter_frames(frames, amount, angle, rng):
    """Frames shifted by up to ``amount`` of their side along their own axes, scaled by up
    to ``exp(amount)`` and turned by up to ``angle`` degrees."""
    if amount == 0 and angle == 0:
        return frames
    n = len(frames)
    moved = _moved_along_axes(frames, rng.uniform(-amount, amount, (n, 2)))
    moved[:, 2] *= np.exp(rng.uniform(-amount, amount, n))
    moved[:, 3] += rng.uniform(-angle, angle, n)
    return moved


# The four moves of shifted_frames, in units of the frame's side along its own axes.
_SHIFT_DIRECTIONS = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def shifted_frames(frames, amount) -> np.ndarray:
    """``(4, n, 4)``: the frames moved by ``amount`` of their side right, left, down and up
    along their own axes (the crop's, turned with the face), size and angle kept."""
    frames = _check_frames(frames)
    return np.stack(
        [_moved_along_axes(frames, np.broadcast_to(amount * d, (len(frames), 2))) for d in _SHIFT_DIRECTIONS]
    )


def _moved_along_axes(frames, shift):
    """Copies of ``frames`` whose centres moved by ``shift`` ``(n, 2)`` of their side along
    their own x and y axes."""
    step = shift * frames[:, 2:3]
    radians = np.radians(frames[:, 3])
    cos, sin = np.cos(radians), np.sin(radians)
    moved = np.array(frames, dtype=float)
    moved[:, 0] = frames[:, 0] + cos * step[:, 0] - sin * step[:, 1]
    moved[:, 1] = frames[:, 1] + sin * step[:, 0] + cos * step[:, 1]
    return moved
