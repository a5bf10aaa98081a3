"""Keypoint layouts and the conversions between target rows and point arrays.

A layout names the keypoints of a landmarking scheme and records the facts that
augmentation, metrics and plotting need: which points swap under a horizontal flip,
which two points define the inter-ocular distance, and which points to join when drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KeypointLayout", "KAGGLE_15", "IBUG_68", "to_keypoints", "to_targets"]


@dataclass(frozen=True)
class KeypointLayout:
    """An immutable description of a facial keypoint scheme.

    Parameters
    ----------
    name : str
        Short name of the scheme, for messages and reprs.
    keypoint_names : tuple of str
        One name per keypoint, in target order. Targets hold
        ``[kp0_x, kp0_y, kp1_x, kp1_y, ...]`` in this order.
    flip_pairs : tuple of (int, int)
        Keypoints that trade places under a horizontal flip (the subject's left
        and right). Points in no pair map to themselves.
    interocular : (int, int)
        The two keypoints whose distance normalises errors (NME).
    edges : tuple of (int, int), default=()
        Pairs of keypoints joined by a line when a face is drawn.

    Examples
    --------
    >>> from skfkd import KAGGLE_15
    >>> KAGGLE_15.n_keypoints
    15
    >>> KAGGLE_15.keypoint_names[:2]
    ('left_eye_center', 'right_eye_center')
    >>> KAGGLE_15.flip_permutation[:4].tolist()
    [1, 0, 4, 5]
    """

    name: str
    keypoint_names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    interocular: tuple[int, int]
    edges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self):
        # Normalise list input to tuples so instances stay hashable and immutable.
        object.__setattr__(self, "keypoint_names", tuple(self.keypoint_names))
        object.__setattr__(self, "flip_pairs", tuple(tuple(p) for p in self.flip_pairs))
        object.__setattr__(self, "interocular", tuple(self.interocular))
        object.__setattr__(self, "edges", tuple(tuple(e) for e in self.edges))
        k = len(self.keypoint_names)
        if k == 0:
            raise ValueError(f"layout {self.name!r} has no keypoints")
        if len(set(self.keypoint_names)) != k:
            raise ValueError(f"layout {self.name!r} repeats a keypoint name")
        seen: set[int] = set()
        for pair in self.flip_pairs:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"flip pair {pair} of layout {self.name!r} is not two distinct indices")
            for i in pair:
                _check_index(i, k, "flip pair", self.name)
                if i in seen:
                    raise ValueError(f"keypoint {i} appears in two flip pairs of layout {self.name!r}")
                seen.add(i)
        if len(self.interocular) != 2 or self.interocular[0] == self.interocular[1]:
            raise ValueError(f"interocular of layout {self.name!r} must be two distinct indices")
        for i in self.interocular:
            _check_index(i, k, "interocular", self.name)
        for edge in self.edges:
            if len(edge) != 2:
                raise ValueError(f"edge {edge} of layout {self.name!r} is not a pair")
            for i in edge:
                _check_index(i, k, "edge", self.name)

    @property
    def n_keypoints(self) -> int:
        """Number of keypoints ``k``; targets have ``2 * k`` columns."""
        return len(self.keypoint_names)

    @property
    def flip_permutation(self) -> np.ndarray:
        """Index array ``p`` such that ``keypoints[:, p]`` relabels a mirrored face."""
        perm = np.arange(self.n_keypoints)
        for i, j in self.flip_pairs:
            perm[i], perm[j] = j, i
        return perm

    @property
    def target_names(self) -> list[str]:
        """Column names of the targets: ``name_x, name_y`` for each keypoint."""
        return [f"{name}_{axis}" for name in self.keypoint_names for axis in ("x", "y")]

    def check_targets(self, y) -> np.ndarray:
        """Return ``y`` as a float array, raising if its width does not fit this layout.

        Parameters
        ----------
        y : array-like of shape (n_samples, 2 * n_keypoints)
            Keypoint targets in pixels.

        Returns
        -------
        y : ndarray of shape (n_samples, 2 * n_keypoints)

        Examples
        --------
        >>> import numpy as np
        >>> from skfkd import KAGGLE_15
        >>> KAGGLE_15.check_targets(np.zeros((2, 30))).shape
        (2, 30)
        """
        y = np.asarray(y, dtype=float)
        if y.ndim != 2 or y.shape[1] != 2 * self.n_keypoints:
            raise ValueError(
                f"layout {self.name!r} has {self.n_keypoints} keypoints, so targets need shape "
                f"(n_samples, {2 * self.n_keypoints}); got {y.shape}"
            )
        return y

    def __repr__(self) -> str:
        return f"KeypointLayout({self.name!r}, n_keypoints={self.n_keypoints})"


def _check_index(i, k, what, name):
    if not isinstance(i, (int, np.integer)) or not 0 <= i < k:
        raise ValueError(f"{what} index {i!r} of layout {name!r} is outside 0..{k - 1}")


def to_keypoints(y) -> np.ndarray:
    """Reshape targets ``(..., 2k)`` into point arrays ``(..., k, 2)``.

    Parameters
    ----------
    y : array-like of shape (..., 2 * n_keypoints)
        Targets in the Kaggle column order ``[kp0_x, kp0_y, kp1_x, ...]``.

    Returns
    -------
    keypoints : ndarray of shape (..., n_keypoints, 2)
        The last axis holds ``(x, y)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import to_keypoints
    >>> to_keypoints(np.array([[1.0, 2.0, 3.0, 4.0]]))
    array([[[1., 2.],
            [3., 4.]]])
    """
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[-1] % 2:
        raise ValueError(f"targets need an even number of columns (x, y pairs); got shape {y.shape}")
    return y.reshape(*y.shape[:-1], y.shape[-1] // 2, 2)


def to_targets(keypoints) -> np.ndarray:
    """Flatten point arrays ``(..., k, 2)`` into targets ``(..., 2k)``.

    The inverse of :func:`to_keypoints`.

    Parameters
    ----------
    keypoints : array-like of shape (..., n_keypoints, 2)

    Returns
    -------
    y : ndarray of shape (..., 2 * n_keypoints)

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import to_targets
    >>> to_targets(np.array([[[1.0, 2.0], [3.0, 4.0]]]))
    array([[1., 2., 3., 4.]])
    """
    keypoints = np.asarray(keypoints)
    if keypoints.ndim < 2 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints need shape (..., n_keypoints, 2); got {keypoints.shape}")
    return keypoints.reshape(*keypoints.shape[:-2], keypoints.shape[-2] * 2)


def _chain(indices, closed=False):
    indices = list(indices)
    edges = list(zip(indices[:-1], indices[1:]))
    if closed:
        edges.append((indices[-1], indices[0]))
    return edges


# "left"/"right" are the subject's, as in the Kaggle CSV: the left eye appears on the
# image's right-hand side.
KAGGLE_15 = KeypointLayout(
    name="kaggle_15",
    keypoint_names=(
        "left_eye_center",
        "right_eye_center",
        "left_eye_inner_corner",
        "left_eye_outer_corner",
        "right_eye_inner_corner",
        "right_eye_outer_corner",
        "left_eyebrow_inner_end",
        "left_eyebrow_outer_end",
        "right_eyebrow_inner_end",
        "right_eyebrow_outer_end",
        "nose_tip",
        "mouth_left_corner",
        "mouth_right_corner",
        "mouth_center_top_lip",
        "mouth_center_bottom_lip",
    ),
    flip_pairs=((0, 1), (2, 4), (3, 5), (6, 8), (7, 9), (11, 12)),
    interocular=(0, 1),
    edges=(
        (3, 0),
        (0, 2),
        (5, 1),
        (1, 4),  # eye corner - centre - corner
        (7, 6),
        (9, 8),  # brows
        (11, 13),
        (13, 12),
        (12, 14),
        (14, 11),  # mouth outline
    ),
)


def _ibug_names():
    names = [f"jaw_{i}" for i in range(17)]
    names += [f"right_brow_{i}" for i in range(5)] + [f"left_brow_{i}" for i in range(5)]
    names += [f"nose_bridge_{i}" for i in range(4)] + [f"nose_base_{i}" for i in range(5)]
    names += [f"right_eye_{i}" for i in range(6)] + [f"left_eye_{i}" for i in range(6)]
    names += [f"outer_lip_{i}" for i in range(12)] + [f"inner_lip_{i}" for i in range(8)]
    return tuple(names)


# The 68-point iBUG / 300-W / dlib scheme, 0-based. "right" is the subject's right, which
# appears on the image's left. The pairs mirror each contour about the face's midline.
IBUG_68 = KeypointLayout(
    name="ibug_68",
    keypoint_names=_ibug_names(),
    flip_pairs=(
        *((i, 16 - i) for i in range(8)),  # jaw, 8 is the chin
        *((17 + i, 26 - i) for i in range(5)),  # brows
        (31, 35),
        (32, 34),  # nose base, 33 is the centre
        (36, 45),
        (37, 44),
        (38, 43),
        (39, 42),
        (40, 47),
        (41, 46),  # eyes
        (48, 54),
        (49, 53),
        (50, 52),
        (55, 59),
        (56, 58),  # outer lip, 51 and 57 central
        (60, 64),
        (61, 63),
        (65, 67),  # inner lip, 62 and 66 central
    ),
    interocular=(36, 45),
    edges=tuple(
        _chain(range(0, 17))
        + _chain(range(17, 22))
        + _chain(range(22, 27))
        + _chain(range(27, 31))
        + _chain(range(31, 36))
        + _chain(range(36, 42), closed=True)
        + _chain(range(42, 48), closed=True)
        + _chain(range(48, 60), closed=True)
        + _chain(range(60, 68), closed=True)
    ),
)


_LAYOUTS_BY_SIZE = {layout.n_keypoints: layout for layout in (KAGGLE_15, IBUG_68)}


def resolve_layout(layout, n_keypoints) -> KeypointLayout:
    """The layout to use for targets with ``n_keypoints`` points.

    ``layout=None`` picks the built-in layout of that size (15 -> KAGGLE_15,
    68 -> IBUG_68); an explicit layout must have ``n_keypoints`` points.
    """
    if layout is None:
        if n_keypoints not in _LAYOUTS_BY_SIZE:
            raise ValueError(
                f"no built-in layout has {n_keypoints} keypoints (KAGGLE_15 has 15, IBUG_68 has 68); "
                "pass a KeypointLayout"
            )
        return _LAYOUTS_BY_SIZE[n_keypoints]
    if not isinstance(layout, KeypointLayout):
        raise TypeError(f"layout must be a KeypointLayout or None; got {type(layout).__name__}")
    if layout.n_keypoints != n_keypoints:
        raise ValueError(
            f"layout {layout.name!r} has {layout.n_keypoints} keypoints but the targets have {n_keypoints} "
            f"({2 * n_keypoints} columns)"
        )
    return layout
