"""Procedural faces with exact keypoints: the dataset that needs no download.

Each face is built in a canonical *face frame* (x to the image's right, y down, the widest
point of the head at the origin, about one unit from the centre to the chin), every shape
and keypoint is mapped into the image by the same per-face pose, and the shapes are then
rasterised in image coordinates. Because nothing is warped after drawing, the keypoints sit
exactly on the features they name.
"""

from __future__ import annotations

import numbers

import numpy as np
from skimage.draw import line
from sklearn.utils import Bunch, check_random_state

from skfkd._layout import IBUG_68, KAGGLE_15, to_targets

__all__ = ["make_faces"]

# The generator tracks 70 points: the 68 iBUG landmarks, then the pupils of the subject's
# left eye (on the image's right) and right eye. A layout picks the points it reports.
_LEFT_PUPIL, _RIGHT_PUPIL = 68, 69
_LAYOUT_POINTS = (
    (KAGGLE_15, np.array([68, 69, 42, 45, 39, 36, 22, 26, 21, 17, 30, 54, 48, 51, 57])),
    (IBUG_68, np.arange(68)),
)

# Depth of each feature in face-frame units, for the yaw-like turn: a turned head shifts
# each feature sideways in proportion to how far it stands out of the face's plane. One
# depth per shape keeps the map affine per shape, so points inside a shape stay inside it.
_DEPTH = {"outline": 0.0, "brows": 0.2, "eyes": 0.2, "mouth": 0.3, "nose_base": 0.45, "occluder": 0.6}
_NOSE_BRIDGE_DEPTH = (0.25, 0.6)  # from point 27 between the eyes to the tip (30)

# One face-frame unit (about the centre of the head to the chin) in pixels, as a fraction
# of the image size: the face (hairline to chin) then spans 55-70% of the image height,
# like a face-detector crop.
_HEAD_SCALE = 0.35
_MAX_SHIFT = 0.06  # of the image size
_MARGIN = 0.5  # pixels between a keypoint and the image border
_N_TEXTURE = 5  # side of the low-resolution grid that gives the background its texture
_MAX_CLUTTER = 5
_CLUTTER_FIELDS = ("x", "y", "radius", "aspect", "angle", "level", "kind", "present")
_CHUNK = 512  # faces laid out together

# Every random quantity of a face is ``low + (high - low) * u`` for one uniform ``u``; a
# face's uniforms come from its own generator, so face i does not depend on n_samples.
_PARAMS = (
    # pose (rotation and yaw are multiplied by the caller's maximum angles)
    ("rotation", -1.0, 1.0),
    ("yaw", -1.0, 1.0),
    ("scale", 0.9, 1.1),
    ("shift_x", 0.0, 1.0),
    ("shift_y", 0.0, 1.0),
    # head shape
    ("face_width", 0.66, 0.84),  # half-width at the widest point
    ("chin", 0.92, 1.06),  # centre to chin
    ("skull", 1.15, 1.35),  # centre to crown
    ("jaw_power", 2.0, 3.5),  # superellipse exponent of the jaw: 2 round, larger squarer
    ("neck_width", 0.26, 0.38),
    # tones, 0-255 before lighting
    ("skin", 70.0, 215.0),
    ("background_contrast", 35.0, 115.0),
    ("background_side", 0.0, 1.0),
    ("texture_strength", 0.0, 40.0),
    ("neck_shade", 0.68, 0.85),
    ("hair", 0.0, 1.0),  # bald below 0.15
    ("hair_contrast", 40.0, 115.0),
    ("hair_side", 0.0, 1.0),  # darker than the skin below 0.8
    ("hairline", -0.95, -0.7),
    ("hair_volume", 1.05, 1.2),
    ("hair_length", -0.2, 0.8),
    # eyes
    ("eye_y", -0.24, -0.12),
    ("eye_x", 0.3, 0.38),
    ("eye_width", 0.12, 0.17),  # half-width
    ("eye_height", 0.05, 0.09),  # upper lid above the corner line
    ("eye_tilt", -0.03, 0.04),  # outer corner above the inner one
    ("gaze_x", -0.35, 0.35),  # of the eye's half-width
    ("gaze_y", -0.2, 0.2),  # of the eye's height
    ("iris_size", 0.75, 1.0),
    ("sclera", 25.0, 70.0),  # lighter than the skin by
    ("iris_level", 0.2, 0.6),  # of the skin tone
    ("pupil_level", 0.0, 0.15),
    # brows
    ("brow_gap", 0.15, 0.22),  # above the eye line, more than the eye height
    ("brow_raise", 0.0, 0.08),  # expression
    ("brow_asymmetry", -0.02, 0.02),
    ("brow_inner", 0.08, 0.16),
    ("brow_outer", 0.5, 0.62),
    ("brow_arch", 0.0, 0.07),
    ("brow_slope", -0.03, 0.06),  # outer end above the inner end
    ("brow_thickness", 0.04, 0.08),
    ("brow_level", 0.25, 0.6),
    # nose
    ("nose_tip", 0.15, 0.28),
    ("nose_base", 0.05, 0.09),  # below the tip
    ("nose_width", 0.09, 0.14),
    ("nose_shade", 0.8, 0.92),
    # mouth
    ("mouth_y", 0.5, 0.62),
    ("mouth_width", 0.17, 0.27),  # half-width
    ("upper_lip", 0.035, 0.07),
    ("lower_lip", 0.045, 0.09),
    ("mouth_opens", 0.0, 1.0),  # closed below 0.45
    ("mouth_open", 0.02, 0.16),
    ("smile", -0.03, 0.06),
    ("lip_level", 0.55, 0.8),
    ("teeth", 0.0, 1.0),  # shown below 0.6 when the mouth is open
    # light, noise and occluder
    ("light_angle", 0.0, 2 * np.pi),
    ("light_strength", 0.0, 0.5),
    ("noise", 0.25, 1.0),  # of the caller's maximum
    ("occluded", 0.0, 1.0),  # occluded below the caller's probability
    ("occluder_x", -0.5, 0.5),
    ("occluder_y", -0.4, 0.7),
    ("occluder_width", 0.25, 0.55),
    ("occluder_height", 0.12, 0.35),
    ("occluder_angle", 0.0, np.pi),
    ("occluder_level", 0.0, 255.0),
    ("occluder_round", 0.0, 1.0),
)
_N_UNIFORMS = len(_PARAMS) + _N_TEXTURE**2 + _MAX_CLUTTER * len(_CLUTTER_FIELDS)


def make_faces(
    n_samples=100,
    *,
    image_size=96,
    layout=KAGGLE_15,
    missing_rate=0.0,
    rotation=15.0,
    yaw=20.0,
    occlusion=0.1,
    noise=8.0,
    return_X_y=False,
    random_state=None,
):
    """Generate grayscale synthetic faces whose keypoints are exact.

    Each face is drawn procedurally with filled polygons: a head with a jaw line, hair,
    neck, brows, eyes with an iris and a dark pupil, a shaded nose and lips, in front of a
    textured, cluttered background. Every keypoint is a vertex, the centre or a point on
    the centre line of the shape it names, and the shapes are placed by the same random
    pose as the keypoints, so labels carry no annotation noise. Pose, face shape,
    expression, tones, lighting, pixel noise and occasional occluders vary from face to
    face, so predicting the mean shape does clearly worse than a model that looks at the
    pixels.

    Parameters
    ----------
    n_samples : int, default=100
        Number of faces.
    image_size : int, default=96
        Side of the square images in pixels, at least 32.
    layout : KeypointLayout, default=KAGGLE_15
        Which keypoints to report: :data:`~skfkd.KAGGLE_15` (15 points, the eye centres
        are the pupils) or :data:`~skfkd.IBUG_68` (68 points, drawn along their contours).
        The same ``random_state`` draws the same images in either layout.
    missing_rate : float, default=0.0
        Probability, in [0, 1], that a keypoint is left unannotated (independently per
        keypoint); both its x and y are then NaN. Images are unaffected.
    rotation : float, default=15.0
        Largest in-plane rotation in degrees, in [0, 180]; angles are uniform in
        ``[-rotation, rotation]``.
    yaw : float, default=20.0
        Largest head turn about the vertical axis in degrees, in [0, 45]. A turned face is
        squeezed horizontally and its features shift sideways by their depth.
    occlusion : float, default=0.1
        Probability, in [0, 1], that a flat patch covers part of the face. The covered
        keypoints keep their true positions.
    noise : float, default=8.0
        Largest standard deviation of the Gaussian pixel noise, in gray levels (>= 0);
        each face draws its own level between a quarter of this and this.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds one generator per face, so results are reproducible and face ``i`` is the
        same whatever ``n_samples`` is.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, image_size * image_size), dtype uint8
            The flattened images.
        images : ndarray of shape (n_samples, image_size, image_size), dtype uint8
            The same images (shares memory with ``data``).
        target : ndarray of shape (n_samples, 2 * n_keypoints), dtype float64
            Keypoints in pixels, ``[kp0_x, kp0_y, kp1_x, ...]``; NaN where unannotated.
        keypoints : ndarray of shape (n_samples, n_keypoints, 2), dtype float64
            The same values as ``(x, y)`` points.
        target_names : list of str
            Column names of ``target``.
        layout : KeypointLayout
            The layout of the keypoints.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True

    Notes
    -----
    Coordinates follow the skfkd convention: ``x`` is the column, ``y`` the row, pixel
    centres are at integers, so a keypoint at ``(x, y)`` lies on pixel
    ``image[round(y), round(x)]``. "Left" and "right" are the subject's: the left eye
    appears on the image's right.

    The framing matches a face crop: the face from hairline to chin spans about 55-70%
    of the image height before scaling, centred, with the crown near the top edge and the
    neck running out of frame. Faces are rotated by up to ``rotation`` degrees, scaled by
    0.9-1.1 and shifted by up to 6% of the image, within limits that keep every keypoint
    (of either layout) at least half a pixel inside the image.

    The generator is vectorised over faces for the geometry and paints each face with a
    scanline polygon fill; 2000 faces of 96x96 pixels take a couple of seconds on one CPU
    core.

    Examples
    --------
    >>> from skfkd import IBUG_68
    >>> from skfkd.datasets import make_faces
    >>> faces = make_faces(8, random_state=0)
    >>> faces.images.shape, faces.data.shape, faces.target.shape
    ((8, 96, 96), (8, 9216), (8, 30))
    >>> faces.target_names[:2]
    ['left_eye_center_x', 'left_eye_center_y']
    >>> left_eye, right_eye = faces.keypoints[0, :2]  # the subject's left is the image's right
    >>> bool(left_eye[0] > right_eye[0])
    True
    >>> X, y = make_faces(4, image_size=64, layout=IBUG_68, return_X_y=True, random_state=0)
    >>> X.shape, y.shape
    ((4, 4096), (4, 136))
    """
    point_index = _check_arguments(
        n_samples, image_size, layout, missing_rate, rotation, yaw, occlusion, noise
    )
    rngs = _face_generators(n_samples, random_state)
    painter = _Painter(image_size)
    images = np.empty((n_samples, image_size, image_size), dtype=np.uint8)
    keypoints = np.empty((n_samples, len(point_index), 2))
    # Faces are laid out in chunks to bound the memory of the geometry; each face has its
    # own generator, so the chunking does not change the result.
    for start in range(0, n_samples, _CHUNK):
        chunk = rngs[start : start + _CHUNK]
        faces = _FaceBatch(np.stack([rng.random(_N_UNIFORMS) for rng in chunk]), image_size, rotation, yaw)
        keypoints[start : start + len(chunk)] = faces.points[:, point_index]
        for i, rng in enumerate(chunk):
            canvas = painter.draw(faces, i, occlusion)
            canvas += (noise * faces.params["noise"][i]) * rng.standard_normal(canvas.shape, dtype=np.float32)
            images[start + i] = np.clip(canvas + 0.5, 0, 255)  # + 0.5 so that the cast to uint8 rounds
            # Drawn last, so that missing_rate and the layout leave the images alone.
            keypoints[start + i, rng.random(len(point_index)) < missing_rate] = np.nan

    data = images.reshape(n_samples, -1)
    target = to_targets(keypoints)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        images=images,
        target=target,
        keypoints=keypoints,
        target_names=layout.target_names,
        layout=layout,
        DESCR=_describe(n_samples, image_size, layout, missing_rate),
    )


def _check_arguments(n_samples, image_size, layout, missing_rate, rotation, yaw, occlusion, noise):
    """Validate the arguments; return the generator's point index of each keypoint."""
    for name, value, low in (("n_samples", n_samples, 1), ("image_size", image_size, 32)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    for name, value, low, high in (
        ("missing_rate", missing_rate, 0, 1),
        ("rotation", rotation, 0, 180),
        ("yaw", yaw, 0, 45),
        ("occlusion", occlusion, 0, 1),
        ("noise", noise, 0, np.inf),
    ):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{name} must be a number in [{low}, {high}]; got {value!r}")
    for known, index in _LAYOUT_POINTS:
        if layout == known:
            return index
    supported = " and ".join(known.name for known, _ in _LAYOUT_POINTS)
    raise ValueError(
        f"make_faces draws only the {supported} layouts (skfkd.KAGGLE_15, skfkd.IBUG_68); got {layout!r}"
    )


def _face_generators(n_samples, random_state):
    """One generator per face, seeded in order from ``random_state``."""
    high = np.iinfo(np.int32).max
    if isinstance(random_state, np.random.Generator):
        seeds = random_state.integers(high, size=n_samples)
    else:
        seeds = check_random_state(random_state).randint(high, size=n_samples)
    return [np.random.default_rng(seed) for seed in seeds]


class _FaceBatch:
    """Everything needed to paint a batch of faces, computed for all of them at once.

    Parameters
    ----------
    uniforms : ndarray of shape (n_faces, _N_UNIFORMS)
        Each face's uniform draws; :data:`_PARAMS` says what they mean.
    image_size, rotation, yaw
        As in :func:`make_faces`.

    Attributes
    ----------
    params : dict of ndarray
        The named random quantities of :data:`_PARAMS`.
    points : ndarray of shape (n_faces, 70, 2)
        The tracked points in pixels.
    shapes : dict of edge tables
        The face's polygons in pixels, see :func:`_edge_table`.
    clutter : edge table of shape (n_faces, _MAX_CLUTTER, ...)
        Background shapes, with ``clutter_tones`` and ``clutter_present``.
    texture : ndarray of shape (n_faces, _N_TEXTURE, _N_TEXTURE)
        Low-resolution background texture.
    tones : dict of ndarray
        Gray level of each part.
    """

    def __init__(self, uniforms, image_size, rotation, yaw):
        p = {name: low + (high - low) * uniforms[:, j] for j, (name, low, high) in enumerate(_PARAMS)}
        pose = _pose(p, image_size, rotation, yaw)
        frame_points, frame_shapes = _face_frame(p)
        points = _to_image(*frame_points, pose)
        shapes = {name: _to_image(xy, depth, pose) for name, (xy, depth) in frame_shapes.items()}
        _shift_inside(points, shapes, p, image_size)
        shapes.update(_round_features(points, p, pose["scale"]))

        rest = uniforms[:, len(_PARAMS) :]
        clutter, self.clutter_tones, self.clutter_present = _clutter(rest[:, _N_TEXTURE**2 :], image_size)
        self.clutter = _edge_table(clutter, image_size)
        self.texture = rest[:, : _N_TEXTURE**2].reshape(-1, _N_TEXTURE, _N_TEXTURE).astype(np.float32)
        self.shapes = {name: _edge_table(xy, image_size) for name, xy in shapes.items()}
        self.points = points
        self.params = p
        self.tones = _tones(p)


def _pose(p, image_size, rotation, yaw):
    """Per-face rotation, yaw and scale; the shift is chosen once the face is placed."""
    angle = np.deg2rad(rotation * p["rotation"])
    turn = np.deg2rad(yaw * p["yaw"])
    return {
        "cos": np.cos(angle),
        "sin": np.sin(angle),
        "squeeze": np.cos(turn),
        "depth_shift": np.sin(turn),
        "scale": _HEAD_SCALE * image_size * p["scale"],
        "centre": (image_size - 1) / 2.0,
    }


def _to_image(xy, depth, pose):
    """Map face-frame points ``(n, m, 2)`` at ``depth`` (scalar or ``(m,)``) to pixels.

    A turn about the vertical axis squeezes x and shifts each point sideways by its depth;
    then the head is rotated, scaled and centred in the image.
    """
    x = xy[..., 0] * pose["squeeze"][:, None] + depth * pose["depth_shift"][:, None]
    y = xy[..., 1]
    cos, sin, scale = (pose[key][:, None] for key in ("cos", "sin", "scale"))
    return pose["centre"] + scale[..., None] * np.stack([cos * x - sin * y, sin * x + cos * y], axis=-1)


def _shift_inside(points, shapes, p, image_size):
    """Shift each face by a random offset among those that keep all its points inside.

    All 70 tracked points are kept inside whichever layout is reported, so that a random
    state draws the same images in every layout. Even a head rotated by 180 degrees at the
    largest scale leaves room for this, so the range of offsets is never empty.
    """
    largest = _MAX_SHIFT * image_size
    low = np.maximum(-largest, _MARGIN - points.min(axis=1))
    high = np.minimum(largest, image_size - 1 - _MARGIN - points.max(axis=1))
    shift = (low + np.stack([p["shift_x"], p["shift_y"]], axis=-1) * (high - low))[:, None]
    points += shift
    for xy in shapes.values():
        xy += shift


# ---------------------------------------------------------------------------------------
# The face frame: x to the image's right, y down, the head's widest point at the origin,
# the chin about one unit below it. Every function below works on all faces at once.


def _points(*columns):
    """Stack per-face coordinates given as x0, y0, x1, y1, ... into ``(n, m, 2)``."""
    n = max(np.size(c) for c in columns)
    columns = [np.broadcast_to(c, (n,)) for c in columns]
    return np.stack([np.stack(columns[0::2], axis=1), np.stack(columns[1::2], axis=1)], axis=-1)


def _mirror(xy):
    """Reflect face-frame points about the face's vertical midline."""
    return xy * np.array([-1.0, 1.0])


def _face_frame(p):
    """The 70 tracked points and the polygons to paint, in the face frame.

    Returns ``(points, depth)`` with points ``(n, 70, 2)`` (the 68 iBUG landmarks, then
    the pupils, see :data:`_LAYOUT_POINTS`) and a dict of ``(polygons, depth)`` in
    painting order; depths are scalars or one per vertex.
    """
    jaw, outline = _jaw_and_outline(p)
    right_eye, left_eye, pupils = _eyes(p)
    brow_centres, right_brow, left_brow = _brows(p)
    bridge, base, nose = _nose(p)
    outer_lips, inner_lips, teeth = _mouth(p)
    hair_back, hair_front = _hair(p)

    points = np.concatenate(
        [jaw, brow_centres, bridge, base, right_eye, left_eye, outer_lips, inner_lips, pupils], 1
    )
    depth = np.concatenate(
        [
            np.full(17, _DEPTH["outline"]),
            np.full(10, _DEPTH["brows"]),
            np.linspace(*_NOSE_BRIDGE_DEPTH, 4),
            np.full(5, _DEPTH["nose_base"]),
            np.full(12, _DEPTH["eyes"]),
            np.full(20, _DEPTH["mouth"]),
            np.full(2, _DEPTH["eyes"]),
        ]
    )
    # The nose's shaded sides start beside point 27 (at its depth) and widen to the base.
    nose_depth = np.array(
        [_NOSE_BRIDGE_DEPTH[0], 0.4, *[_DEPTH["nose_base"]] * 5, 0.4, _NOSE_BRIDGE_DEPTH[0]]
    )
    # Nostrils: small ellipses just above the base, between points 31-32 and 34-35.
    nostrils = [
        _blob(base[:, a : a + 2, 0].mean(1), base[:, a : a + 2, 1].mean(1) - 0.015,
              0.3 * p["nose_width"], 0.02, 0.0, 0)
        for a in (0, 3)
    ]  # fmt: skip
    occluder = _blob(
        p["occluder_x"], p["occluder_y"], p["occluder_width"], p["occluder_height"], p["occluder_angle"],
        (p["occluder_round"] >= 0.5).astype(int),
    )  # fmt: skip
    neck = _points(
        -p["neck_width"], 0.4, p["neck_width"], 0.4, 1.2 * p["neck_width"], 4.0, -1.2 * p["neck_width"], 4.0
    )
    shapes = {
        "hair_back": (hair_back, _DEPTH["outline"]),
        "neck": (neck, _DEPTH["outline"]),
        "head": (outline, _DEPTH["outline"]),
        "hair_front": (hair_front, _DEPTH["outline"]),
        "right_brow": (right_brow, _DEPTH["brows"]),
        "left_brow": (left_brow, _DEPTH["brows"]),
        "right_eye": (right_eye, _DEPTH["eyes"]),
        "left_eye": (left_eye, _DEPTH["eyes"]),
        "nose": (nose, nose_depth),
        "right_nostril": (nostrils[0], _DEPTH["nose_base"]),
        "left_nostril": (nostrils[1], _DEPTH["nose_base"]),
        "outer_lips": (outer_lips, _DEPTH["mouth"]),
        "inner_lips": (inner_lips, _DEPTH["mouth"]),
        "teeth": (teeth, _DEPTH["mouth"]),
        "occluder": (occluder, _DEPTH["occluder"]),
    }
    return (points, depth), shapes


def _jaw_and_outline(p):
    """The 17 jaw points (iBUG 0-16) and the head outline, which passes through them.

    Below the widest point the head is a superellipse (a larger jaw power squares the
    jaw), above it an ellipse up to the crown. The jaw runs from eye level on the image's
    left, round the chin, to eye level on the right; its points are every other vertex
    of the outline's lower part.
    """
    n = len(p["chin"])
    start = np.arcsin(np.clip(-p["eye_y"] / p["skull"], 0, 1))[:, None]  # jaw point 0 above horizontal
    jaw = np.pi + start - np.linspace(0, 1, 33) * (np.pi + 2 * start)
    crown = jaw[:, -1:] - np.linspace(0, 1, 16)[1:-1] * (np.pi - 2 * start)
    theta = np.concatenate([jaw, crown], axis=1)
    cos, sin = np.cos(theta), np.sin(theta)
    lower = sin > 0
    power = np.where(lower, p["jaw_power"][:, None], 2.0)
    half_height = np.where(lower, p["chin"][:, None], p["skull"][:, None])
    x = p["face_width"][:, None] * np.sign(cos) * np.abs(cos) ** (2 / power)
    y = half_height * np.sign(sin) * np.abs(sin) ** (2 / power)
    outline = np.stack([x, y], axis=-1).reshape(n, -1, 2)
    return outline[:, 0:33:2], outline


def _hair(p):
    """Hair behind the head (the crown's ellipse, enlarged, hanging down to the hair
    length) and in front of it (the part of the head above the hairline)."""
    half_width, half_height = p["face_width"] * p["hair_volume"], p["skull"] * p["hair_volume"]
    arc = np.linspace(np.pi, 2 * np.pi, 13)
    back = np.concatenate(
        [
            _points(-half_width, p["hair_length"]),
            np.stack([np.cos(arc) * half_width[:, None], np.sin(arc) * half_height[:, None]], axis=-1),
            _points(half_width, p["hair_length"]),
        ],
        axis=1,
    )
    w, skull = p["face_width"][:, None], p["skull"][:, None]
    reach = np.arcsin(np.clip(-p["hairline"][:, None] / skull, 0, 1))  # where the hairline meets the outline
    cap = np.pi + reach + np.linspace(0, 1, 11) * (np.pi - 2 * reach)
    # Slightly larger than the head, so that no skin shows round the polygon's edge.
    front = 1.03 * np.stack([np.cos(cap) * w, np.sin(cap) * skull], axis=-1)
    return back, front


def _eyes(p):
    """The six contour points of each eye (iBUG 36-41, 42-47) and the pupils."""
    ex, ey, w, h, tilt = p["eye_x"], p["eye_y"], p["eye_width"], p["eye_height"], p["eye_tilt"]
    # Subject's left eye, on the image's right, clockwise on screen from the inner corner.
    left = _points(
        ex - w, ey + tilt,
        ex - w / 3, ey - h,
        ex + w / 3, ey - h,
        ex + w, ey - tilt,
        ex + w / 3, ey + 0.8 * h,
        ex - w / 3, ey + 0.8 * h,
    )  # fmt: skip
    right = _mirror(left)[:, [3, 2, 1, 0, 5, 4]]  # the subject's right eye starts at its outer corner
    gaze = _points(p["gaze_x"] * w, p["gaze_y"] * h)  # both eyes look the same way on screen
    pupils = _points(ex, ey, -ex, ey) + gaze  # the left pupil first, as in _LAYOUT_POINTS
    return right, left, pupils


def _brows(p):
    """Centre lines of both brows (iBUG 17-26) and their outlines around them."""
    t = np.linspace(0, 1, 5)  # inner to outer end
    inner, outer = p["brow_inner"][:, None], p["brow_outer"][:, None]
    x = inner + (outer - inner) * t
    base = (p["eye_y"] - p["brow_gap"] - p["brow_raise"])[:, None]
    y = base - p["brow_slope"][:, None] * t - p["brow_arch"][:, None] * np.sin(np.pi * t)
    half = p["brow_thickness"][:, None] * (1 - 0.5 * t) / 2  # tapering to the outer end
    centre = np.stack([x, y], axis=-1)  # the subject's left brow, inner to outer: iBUG 22-26
    outline = np.concatenate([np.stack([x, y - half], -1), np.stack([x, y + half], -1)[:, ::-1]], axis=1)
    lower = np.stack([np.zeros_like(p["brow_asymmetry"]), p["brow_asymmetry"]], -1)[:, None]
    right_centre = _mirror(centre - lower)[:, ::-1]  # iBUG 17-21 runs outer to inner
    centres = np.concatenate([right_centre, centre + lower], axis=1)
    return centres, _mirror(outline - lower), outline + lower


def _nose(p):
    """Bridge (iBUG 27-30, ending at the tip), base (31-35) and the shaded outline."""
    top, tip, w = p["eye_y"] - 0.02, p["nose_tip"], p["nose_width"]
    zero = np.zeros_like(tip)
    bridge = _points(*(v for k in range(4) for v in (zero, top + (tip - top) * k / 3)))
    bottom = tip + p["nose_base"]
    base = _points(
        -w, bottom - 0.035, -w / 2, bottom - 0.01, zero, bottom, w / 2, bottom - 0.01, w, bottom - 0.035
    )
    sides = _points(-0.035, top, -0.9 * w, tip - 0.02), _points(0.9 * w, tip - 0.02, 0.035, top)
    return bridge, base, np.concatenate([sides[0], base, sides[1]], axis=1)


def _mouth(p):
    """Outer (iBUG 48-59) and inner (60-67) lip contours, and the upper teeth.

    The lips part along a line that curves up to the corners when smiling; the opening is
    widest in the middle and closes at the inner corners, so that a closed mouth has
    61-63 on 67-65, as in iBUG annotations.
    """
    w, closed = p["mouth_width"], p["mouth_opens"] < 0.45
    opening = np.where(closed, 0.0, p["mouth_open"])

    def parting(f):  # the lip line at x = f * w
        return p["mouth_y"] - p["smile"] * f**2

    def gap(f):  # the opening at x = f * w, zero from the inner corners (0.85 w) outwards
        return opening * max(1 - (f / 0.85) ** 2, 0)

    # (x / w, lip thickness as a fraction); the upper lip dips at the centre (cupid's bow).
    upper = [(-1, 0), (-2 / 3, 0.7), (-1 / 3, 1), (0, 0.85), (1 / 3, 1), (2 / 3, 0.7), (1, 0)]
    lower = [(2 / 3, 0.75), (1 / 3, 0.95), (0, 1), (-1 / 3, 0.95), (-2 / 3, 0.75)]
    outer = [v for f, k in upper for v in (f * w, parting(f) - k * p["upper_lip"])]
    outer += [v for f, k in lower for v in (f * w, parting(f) + gap(f) + k * p["lower_lip"])]
    inner_top = [v for f in (-0.85, -0.5, 0, 0.5, 0.85) for v in (f * w, parting(f))]
    inner_bottom = [v for f in (0.5, 0, -0.5) for v in (f * w, parting(f) + gap(f))]
    # The upper teeth hang from the inner upper lip over 40% of the opening.
    teeth_bottom = [v for f in (0.85, 0.5, 0, -0.5, -0.85) for v in (f * w, parting(f) + 0.4 * gap(f))]
    return _points(*outer), _points(*inner_top, *inner_bottom), _points(*inner_top, *teeth_bottom)


def _blob(x, y, half_width, half_height, angle, kind):
    """Twelve-vertex polygons ``(..., 12, 2)``: ellipses (kind 0), rectangles (1), triangles (2).

    A fixed vertex count lets shapes of every kind be built together: a rectangle pushes
    the ellipse's vertices out to its sides, a triangle repeats each corner four times.
    """
    x, y, half_width, half_height, angle, kind = np.broadcast_arrays(
        x, y, half_width, half_height, angle, kind
    )
    ring = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ellipse = np.stack([np.cos(ring), np.sin(ring)], axis=-1)
    rectangle = ellipse / np.abs(ellipse).max(axis=-1, keepdims=True)
    triangle = np.repeat(ellipse[[3, 7, 11]], 4, axis=0)
    unit = (
        np.stack([ellipse, rectangle, triangle])[kind] * np.stack([half_width, half_height], -1)[..., None, :]
    )
    cos, sin = np.cos(angle)[..., None], np.sin(angle)[..., None]
    return np.stack(
        [
            x[..., None] + cos * unit[..., 0] - sin * unit[..., 1],
            y[..., None] + sin * unit[..., 0] + cos * unit[..., 1],
        ],
        axis=-1,
    )


# ---------------------------------------------------------------------------------------
# Image space.


def _round_features(points, p, scale):
    """Irises, pupils and the nose-tip highlight: circles in pixels around their points.

    Radii are at least 0.8 px, so that the 12-gon still holds every point within 0.77 px
    of its centre: the pixel under the keypoint is painted however small the image.
    """
    iris = scale * np.minimum(1.1 * p["eye_height"], 0.55 * p["eye_width"]) * p["iris_size"]
    pupil = np.maximum(0.45 * iris, 0.8)
    tip = np.maximum(0.035 * scale, 0.8)

    def circle(point, radius):
        return _blob(points[:, point, 0], points[:, point, 1], radius, radius, 0.0, 0)

    return {
        "right_iris": circle(_RIGHT_PUPIL, iris),
        "left_iris": circle(_LEFT_PUPIL, iris),
        "right_pupil": circle(_RIGHT_PUPIL, pupil),
        "left_pupil": circle(_LEFT_PUPIL, pupil),
        "nose_tip": circle(30, tip),
    }


def _clutter(uniforms, size):
    """Background shapes: polygons ``(n, c, 12, 2)`` in pixels, tones and presence ``(n, c)``.

    Each of the slots holds, with probability 0.6, an ellipse, a rectangle (a bar when
    thin) or a triangle of random tone anywhere in the image.
    """
    u = uniforms.reshape(len(uniforms), _MAX_CLUTTER, len(_CLUTTER_FIELDS))
    u = {name: u[..., j] for j, name in enumerate(_CLUTTER_FIELDS)}
    radius = (0.05 + 0.25 * u["radius"]) * size
    kind = np.minimum((3 * u["kind"]).astype(int), 2)
    shapes = _blob(
        u["x"] * size, u["y"] * size, radius, radius * (0.1 + 0.9 * u["aspect"]), np.pi * u["angle"], kind
    )
    return shapes, 255 * u["level"], u["present"] < 0.6


def _offset_tone(base, contrast, side, darker):
    """A tone ``contrast`` away from ``base``: darker when ``side < darker``, unless that
    leaves the gray range, in which case lighter (and the other way round)."""
    sign = np.where(side < darker, -1.0, 1.0)
    sign = np.where(np.abs(base + sign * contrast - 127.5) > 117.5, -sign, sign)
    return base + sign * contrast


def _tones(p):
    """Gray level of every part of each face, before lighting and noise."""
    skin = p["skin"]
    return {
        "background": _offset_tone(skin, p["background_contrast"], p["background_side"], 0.5),
        "hair": _offset_tone(skin, p["hair_contrast"], p["hair_side"], 0.8),
        "skin": skin,
        "neck": skin * p["neck_shade"],
        "brow": skin * p["brow_level"],
        "sclera": np.minimum(skin + p["sclera"], 250.0),
        "iris": skin * p["iris_level"],
        "pupil": skin * p["pupil_level"],
        "nose": skin * p["nose_shade"],
        "ridge": np.minimum(skin * 1.08, 255.0),
        "tip": np.minimum(skin * 1.12 + 8, 255.0),
        "nostril": skin * 0.4,
        "lips": skin * p["lip_level"],
        "seam": skin * p["lip_level"] * 0.5,
        "mouth": skin * 0.2,
        "teeth": np.minimum(skin * 1.1 + 40, 250.0),
        "occluder": p["occluder_level"],
    }


def _edge_table(xy, size):
    """What filling polygons ``xy`` of shape ``(..., m, 2)`` needs, computed in one go.

    Returns the edges ``(..., 4, m)`` as rows (x start, y start, dx/dy, y end), and the
    first and last image rows ``(...)`` whose pixel centres the polygon can cover.
    """
    x, y = xy[..., 0], xy[..., 1]
    x_next, y_next = np.roll(x, -1, axis=-1), np.roll(y, -1, axis=-1)
    slope = (x_next - x) / np.where(y_next == y, 1.0, y_next - y)  # horizontal edges cross no row
    first = np.clip(np.ceil(y.min(axis=-1)), 0, size).astype(int)
    last = np.clip(np.floor(y.max(axis=-1)), -1, size - 1).astype(int)
    return np.stack([x, y, slope, y_next], axis=-2), first, last


def _polygon_mask(edges, first, last, size):
    """Pixels of rows ``first..last`` whose centres lie inside a polygon, as a boolean
    mask ``(last - first + 1, size)``: the rule of :func:`skimage.draw.polygon`.

    A scanline fill: skimage tests every pixel of the bounding box against every edge,
    which for the 47-vertex head outline alone takes a third of a face's time budget.
    """
    x0, y0, slope, y1 = edges
    rows = np.arange(first, last + 1.0)[:, None]
    # Half-open in y, so that a row through a vertex crosses exactly one of its edges.
    row, edge = ((y0 <= rows) != (y1 <= rows)).nonzero()
    x_cross = x0[edge] + (row + (first - y0[edge])) * slope[edge]
    # Each crossing toggles inside/outside from the first pixel centre at or after it.
    index = np.minimum(np.maximum(np.ceil(x_cross), 0), size).astype(np.intp)
    index += row * (size + 1)
    toggles = np.bincount(index, minlength=len(rows) * (size + 1)).reshape(len(rows), size + 1)
    return (toggles[:, :size].cumsum(axis=1) & 1).astype(bool)


class _Painter:
    """Paints faces on float canvases of one size, reusing the size's grids."""

    def __init__(self, size):
        self.size = size
        # Bilinear upsampling of the texture grid to the image, as a matrix.
        t = np.linspace(0, _N_TEXTURE - 1, size)
        self.upsample = np.clip(1 - np.abs(t[:, None] - np.arange(_N_TEXTURE)), 0, None).astype(np.float32)
        ramp = (np.arange(size, dtype=np.float32) - (size - 1) / 2) / size
        self.ramp_x, self.ramp_y = ramp[None, :], ramp[:, None]

    def draw(self, faces, i, occlusion):
        """Face ``i`` of a :class:`_FaceBatch`, lit, without noise, as a float image."""
        p, tone = faces.params, {name: value[i] for name, value in faces.tones.items()}
        canvas = self.upsample @ (faces.texture[i] - 0.5) @ self.upsample.T
        canvas *= 2 * p["texture_strength"][i]
        canvas += tone["background"]
        for j in np.flatnonzero(faces.clutter_present[i]):
            self.fill(canvas, [part[i, j] for part in faces.clutter], faces.clutter_tones[i, j])
        shapes = {name: (edges[i], first[i], last[i]) for name, (edges, first, last) in faces.shapes.items()}
        self.face(canvas, shapes, faces.points[i], tone, p, i)
        if p["occluded"][i] < occlusion:
            self.fill(canvas, shapes["occluder"], tone["occluder"])
        # Light from one side: a gain that changes linearly across the image.
        angle, strength = p["light_angle"][i], p["light_strength"][i]
        canvas *= 1 + 2 * strength * (np.cos(angle) * self.ramp_x + np.sin(angle) * self.ramp_y)
        return canvas

    def face(self, canvas, shapes, points, tone, p, i):
        """Paint one face, back to front."""
        hair = p["hair"][i] >= 0.15  # else bald
        if hair:
            self.fill(canvas, shapes["hair_back"], tone["hair"])
        self.fill(canvas, shapes["neck"], tone["neck"])
        self.fill(canvas, shapes["head"], tone["skin"])
        if hair:
            self.fill(canvas, shapes["hair_front"], tone["hair"])
        for side in ("right", "left"):
            self.fill(canvas, shapes[f"{side}_brow"], tone["brow"])
            self.eye(canvas, shapes[f"{side}_eye"], shapes[f"{side}_iris"], tone)
            self.fill(canvas, shapes[f"{side}_pupil"], tone["pupil"])
        self.fill(canvas, shapes["nose"], tone["nose"])
        self.polyline(canvas, points[27:31], tone["ridge"])  # bridge points 27-30 on the ridge
        self.fill(canvas, shapes["nose_tip"], tone["tip"])
        self.fill(canvas, shapes["right_nostril"], tone["nostril"])
        self.fill(canvas, shapes["left_nostril"], tone["nostril"])
        self.fill(canvas, shapes["outer_lips"], tone["lips"])
        if p["mouth_opens"][i] >= 0.45:
            self.fill(canvas, shapes["inner_lips"], tone["mouth"])
            if p["teeth"][i] < 0.6:
                self.fill(canvas, shapes["teeth"], tone["teeth"])
        else:
            self.polyline(canvas, points[60:65], tone["seam"])  # closed lips meet along 60-64

    def fill(self, canvas, polygon, tone):
        """Paint the pixels inside ``polygon``, an edge table from :func:`_edge_table`."""
        edges, first, last = polygon
        canvas[first : last + 1][_polygon_mask(edges, first, last, self.size)] = tone

    def eye(self, canvas, contour, iris, tone):
        """The sclera inside the eye's contour, then the iris where the lids leave it."""
        eye_mask = _polygon_mask(*contour, self.size)
        canvas[contour[1] : contour[2] + 1][eye_mask] = tone["sclera"]
        first, last = max(contour[1], iris[1]), min(contour[2], iris[2])
        if first <= last:
            inside_eye = eye_mask[first - contour[1] : last + 1 - contour[1]]
            inside_iris = _polygon_mask(*iris, self.size)[first - iris[1] : last + 1 - iris[1]]
            canvas[first : last + 1][inside_eye & inside_iris] = tone["iris"]

    @staticmethod
    def polyline(canvas, xy, tone):
        ends = np.rint(xy).astype(int)  # the points are inside the image, so the lines are
        for (x0, y0), (x1, y1) in zip(ends[:-1], ends[1:], strict=True):
            canvas[line(y0, x0, y1, x1)] = tone


def _describe(n_samples, image_size, layout, missing_rate):
    return (
        f"Synthetic faces: {n_samples} grayscale images of {image_size}x{image_size} pixels with "
        f"{layout.n_keypoints} keypoints in the {layout.name} layout, drawn procedurally by "
        "skfkd.datasets.make_faces. Each face is a set of filled polygons (head and jaw, hair, "
        "neck, brows, eyes with an iris and a dark pupil, a shaded nose, lips) built in a face "
        "frame and placed by one random pose (in-plane rotation, scale, shift and a yaw-like "
        "turn) shared with the keypoints, so every keypoint lies exactly on the feature it names. "
        "Face shape, expression (raised brows, gaze, smile, open mouth), tones, a lighting "
        "gradient, background texture and clutter, pixel noise and occasional occluding patches "
        "vary from face to face. The framing is that of a face crop: the face from hairline to "
        "chin spans about 55-70% of the image height. Coordinates are pixels, x = column, "
        "y = row, pixel centres at integers; left and right are the subject's. Each keypoint "
        f"is unannotated (NaN) with probability {missing_rate:g}."
    )
