"""Errors between true and predicted keypoints.

Every metric takes targets of shape ``(n_samples, 2 * n_keypoints)`` in the Kaggle column
order ``[kp0_x, kp0_y, kp1_x, ...]``. NaN in ``y_true`` marks an unannotated coordinate:
it is left out of every sum and mean, never scored as zero error, and whatever ``y_pred``
holds there is ignored. The point-to-point metrics (everything but :func:`keypoint_rmse`
and :func:`keypoint_r2_score`) work on whole keypoints, so a keypoint counts as annotated
when both of its coordinates are, and one with only one coordinate annotated is an error.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.metrics import make_scorer

from skfkd._layout import resolve_layout, to_keypoints

__all__ = [
    "ced_auc",
    "ced_curve",
    "failure_rate",
    "keypoint_r2_score",
    "keypoint_rmse",
    "nme_scorer",
    "normalized_mean_error",
    "per_keypoint_error",
    "rmse_scorer",
]


def _check_targets(y_true, y_pred, layout=None):
    """Validate a pair of target arrays; return them as floats with the annotation mask.

    ``layout`` is checked against the width when given; metrics that need one resolve it
    themselves, so metrics that do not (RMSE, per-keypoint error) work for any width.
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred need the same shape; got {y_true.shape} and {y_pred.shape}")
    if y_true.ndim != 2 or y_true.shape[0] == 0:
        raise ValueError(
            f"targets need shape (n_samples, 2 * n_keypoints) with at least one sample; got {y_true.shape}"
        )
    if y_true.shape[1] % 2:
        raise ValueError(
            f"targets need an even number of columns (x, y pairs per keypoint); got {y_true.shape[1]}"
        )
    if layout is not None:
        resolve_layout(layout, y_true.shape[1] // 2)
    annotated = ~np.isnan(y_true)
    if np.isinf(y_true).any():
        raise ValueError("y_true holds an infinite value; mark unannotated coordinates with NaN")
    if not annotated.any():
        raise ValueError("y_true has no annotated coordinate to score")
    if not np.isfinite(y_pred[annotated]).all():
        raise ValueError("y_pred must be finite wherever y_true is annotated")
    return y_true, y_pred, annotated


def _annotated_keypoints(annotated):
    """Per-keypoint annotation mask ``(n, k)``; refuses keypoints with one coordinate only."""
    pairs = to_keypoints(annotated)
    half = pairs[..., 0] != pairs[..., 1]
    if half.any():
        face, keypoint = np.argwhere(half)[0]
        raise ValueError(
            f"keypoint {keypoint} of sample {face} has one coordinate annotated and the other NaN; "
            "point-to-point errors need both (or neither)"
        )
    return pairs[..., 0]


def _point_errors(y_true, y_pred, annotated):
    """Euclidean error of every keypoint ``(n, k)``, NaN where the keypoint is unannotated."""
    keypoint_annotated = _annotated_keypoints(annotated)
    difference = to_keypoints(y_true) - to_keypoints(y_pred)
    # hypot rather than sqrt(dx**2 + dy**2): no underflow to 0 for tiny errors.
    errors = np.hypot(difference[..., 0], difference[..., 1])
    # y_pred may hold anything (even NaN or inf) where y_true is NaN; mask explicitly rather
    # than trusting NaN to propagate.
    errors[~keypoint_annotated] = np.nan
    return errors, keypoint_annotated


def keypoint_rmse(y_true, y_pred, *, layout=None) -> float:
    """Root mean squared error over the annotated coordinates, in pixels.

    This is the Kaggle Facial Keypoints Detection metric. Coordinates whose true value is
    NaN (not annotated) are left out of the mean rather than counted as zero error.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, 2 * n_keypoints)
        True keypoints, NaN where not annotated.
    y_pred : array-like of shape (n_samples, 2 * n_keypoints)
        Predicted keypoints; must be finite wherever ``y_true`` is annotated.
    layout : KeypointLayout, default=None
        When given, the targets must have its number of keypoints. The RMSE itself does
        not depend on the layout, so None accepts any even number of columns.

    Returns
    -------
    rmse : float

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.metrics import keypoint_rmse
    >>> keypoint_rmse([[10.0, 20.0, np.nan, np.nan]], [[13.0, 24.0, 0.0, 0.0]])
    3.5355...
    """
    y_true, y_pred, annotated = _check_targets(y_true, y_pred, layout)
    return float(np.sqrt(np.mean((y_true[annotated] - y_pred[annotated]) ** 2)))


def per_keypoint_error(y_true, y_pred, *, layout=None) -> np.ndarray:
    """Mean Euclidean error of each keypoint, in pixels.

    Each keypoint is averaged over the samples where it is annotated; a keypoint that is
    never annotated gets NaN.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, 2 * n_keypoints)
        True keypoints, NaN where not annotated.
    y_pred : array-like of shape (n_samples, 2 * n_keypoints)
        Predicted keypoints; must be finite wherever ``y_true`` is annotated.
    layout : KeypointLayout, default=None
        When given, the targets must have its number of keypoints (its
        ``keypoint_names`` then label the result). None accepts any width.

    Returns
    -------
    errors : ndarray of shape (n_keypoints,)

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.metrics import per_keypoint_error
    >>> y_true = [[0.0, 0.0, np.nan, np.nan], [0.0, 0.0, 5.0, 5.0]]
    >>> y_pred = [[3.0, 4.0, 9.0, 9.0], [0.0, 0.0, 5.0, 6.0]]
    >>> per_keypoint_error(y_true, y_pred)
    array([2.5, 1. ])
    """
    y_true, y_pred, annotated = _check_targets(y_true, y_pred, layout)
    errors, keypoint_annotated = _point_errors(y_true, y_pred, annotated)
    counts = keypoint_annotated.sum(axis=0)
    totals = np.where(keypoint_annotated, errors, 0.0).sum(axis=0)
    # Divide only where a keypoint was seen, so a never-annotated one is NaN without the
    # "mean of empty slice" RuntimeWarning that np.nanmean would raise.
    return np.divide(totals, counts, out=np.full(totals.shape, np.nan), where=counts > 0)


def normalized_mean_error(y_true, y_pred, *, layout=None, per_face=False):
    """Mean point-to-point error normalised by the inter-ocular distance (NME).

    For each face, the Euclidean errors of its annotated keypoints are averaged and
    divided by the distance between the *true* positions of the layout's two
    ``interocular`` keypoints (outer eye corners for :data:`~skfkd.IBUG_68`, as in 300-W;
    eye centres for :data:`~skfkd.KAGGLE_15`). The result is then averaged over faces, so
    every face weighs the same whatever its size in pixels.

    A face whose inter-ocular distance is missing (either eye keypoint unannotated) or
    zero cannot be normalised: it is left out with a ``UserWarning`` giving the count.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, 2 * n_keypoints)
        True keypoints, NaN where not annotated.
    y_pred : array-like of shape (n_samples, 2 * n_keypoints)
        Predicted keypoints; must be finite wherever ``y_true`` is annotated.
    layout : KeypointLayout, default=None
        Supplies the inter-ocular keypoints. None picks the built-in layout with
        ``n_keypoints`` points (15: KAGGLE_15, 68: IBUG_68).
    per_face : bool, default=False
        Return the NME of every face instead of their mean.

    Returns
    -------
    nme : float or ndarray of shape (n_samples,)
        A fraction of the inter-ocular distance (multiply by 100 for the usual %). With
        ``per_face=True``, one value per face, NaN for the faces left out.

    Raises
    ------
    ValueError
        When no face has a usable inter-ocular distance, or the inputs are malformed.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import KeypointLayout
    >>> from skfkd.metrics import normalized_mean_error
    >>> eyes = KeypointLayout("eyes", ("left", "right"), flip_pairs=((0, 1),), interocular=(0, 1))
    >>> y_true = np.array([[0.0, 0.0, 10.0, 0.0]])  # eyes 10 px apart
    >>> y_pred = np.array([[0.0, 1.0, 10.0, 3.0]])  # errors of 1 and 3 px
    >>> normalized_mean_error(y_true, y_pred, layout=eyes)
    0.2
    """
    per_face_nme = _per_face_nme(y_true, y_pred, layout)
    return per_face_nme if per_face else float(np.nanmean(per_face_nme))


def _per_face_nme(y_true, y_pred, layout):
    """NME of every face, NaN (with one warning) where it cannot be normalised."""
    y_true, y_pred, annotated = _check_targets(y_true, y_pred)
    layout = resolve_layout(layout, y_true.shape[1] // 2)
    errors, keypoint_annotated = _point_errors(y_true, y_pred, annotated)
    points = to_keypoints(y_true)
    first, second = layout.interocular
    interocular = np.hypot(*(points[:, first] - points[:, second]).T)
    usable = np.isfinite(interocular) & (interocular > 0)
    n_excluded = int((~usable).sum())
    if not usable.any():
        raise ValueError(
            f"no face has a usable inter-ocular distance (keypoints {first} and {second} of layout "
            f"{layout.name!r} must both be annotated and distinct) so the NME is undefined"
        )
    if n_excluded:
        warnings.warn(
            f"{n_excluded} of {len(usable)} faces left out of the NME: their inter-ocular distance "
            f"(keypoints {first} and {second} of layout {layout.name!r}) is missing or zero",
            UserWarning,
            stacklevel=3,
        )
    # A face with a usable inter-ocular distance has both eye points annotated, so at
    # least two keypoints to average: no empty mean.
    mean_error = np.where(keypoint_annotated, errors, 0.0).sum(axis=1) / np.maximum(
        keypoint_annotated.sum(axis=1), 1
    )
    return np.where(usable, mean_error / np.where(usable, interocular, 1.0), np.nan)


def _check_threshold(threshold):
    if not isinstance(threshold, Real) or isinstance(threshold, bool) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number; got {threshold!r}")
    return float(threshold)


def _usable(per_face_nme):
    return per_face_nme[~np.isnan(per_face_nme)]


def failure_rate(y_true, y_pred, *, threshold=0.08, layout=None) -> float:
    """Share of faces whose NME exceeds ``threshold``.

    Faces that :func:`normalized_mean_error` leaves out (no inter-ocular distance) are
    left out here too, with the same warning.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, 2 * n_keypoints)
        True keypoints, NaN where not annotated.
    y_pred : array-like of shape (n_samples, 2 * n_keypoints)
        Predicted keypoints; must be finite wherever ``y_true`` is annotated.
    threshold : float, default=0.08
        NME above which a face counts as a failure (0.08 and 0.10 are the usual choices
        for 300-W-style benchmarks).
    layout : KeypointLayout, default=None
        Supplies the inter-ocular keypoints; None picks the built-in layout of that size.

    Returns
    -------
    rate : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import KeypointLayout
    >>> from skfkd.metrics import failure_rate
    >>> eyes = KeypointLayout("eyes", ("left", "right"), flip_pairs=((0, 1),), interocular=(0, 1))
    >>> y_true = np.array([[0.0, 0.0, 10.0, 0.0], [0.0, 0.0, 10.0, 0.0]])
    >>> y_pred = np.array([[0.0, 0.5, 10.0, 0.5], [0.0, 2.0, 10.0, 2.0]])  # NME 0.05, 0.2
    >>> failure_rate(y_true, y_pred, threshold=0.1, layout=eyes)
    0.5
    """
    threshold = _check_threshold(threshold)
    nme = _usable(_per_face_nme(y_true, y_pred, layout))
    return float(np.mean(nme > threshold))


def ced_curve(y_true, y_pred, *, threshold=0.08, n_thresholds=101, layout=None):
    """Cumulative error distribution: the share of faces with NME at most ``t``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, 2 * n_keypoints)
        True keypoints, NaN where not annotated.
    y_pred : array-like of shape (n_samples, 2 * n_keypoints)
        Predicted keypoints; must be finite wherever ``y_true`` is annotated.
    threshold : float, default=0.08
        Largest NME on the curve.
    n_thresholds : int, default=101
        Number of evenly spaced thresholds from 0 to ``threshold``, both included.
    layout : KeypointLayout, default=None
        Supplies the inter-ocular keypoints; None picks the built-in layout of that size.

    Returns
    -------
    thresholds : ndarray of shape (n_thresholds,)
    fractions : ndarray of shape (n_thresholds,)
        Nondecreasing; the last value is ``1 - failure_rate(..., threshold=threshold)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import KeypointLayout
    >>> from skfkd.metrics import ced_curve
    >>> eyes = KeypointLayout("eyes", ("left", "right"), flip_pairs=((0, 1),), interocular=(0, 1))
    >>> y_true = np.array([[0.0, 0.0, 10.0, 0.0], [0.0, 0.0, 10.0, 0.0]])
    >>> y_pred = np.array([[0.0, 0.5, 10.0, 0.5], [0.0, 2.0, 10.0, 2.0]])  # NME 0.05, 0.2
    >>> thresholds, fractions = ced_curve(y_true, y_pred, threshold=0.2, n_thresholds=5, layout=eyes)
    >>> thresholds
    array([0.  , 0.05, 0.1 , 0.15, 0.2 ])
    >>> fractions
    array([0. , 0.5, 0.5, 0.5, 1. ])
    """
    threshold = _check_threshold(threshold)
    if not isinstance(n_thresholds, Integral) or isinstance(n_thresholds, bool) or n_thresholds < 2:
        raise ValueError(f"n_thresholds must be an integer of at least 2; got {n_thresholds!r}")
    nme = np.sort(_usable(_per_face_nme(y_true, y_pred, layout)))
    thresholds = np.linspace(0.0, threshold, n_thresholds)
    # side="right" counts the faces whose NME equals the threshold, as "at most t" requires.
    fractions = np.searchsorted(nme, thresholds, side="right") / nme.size
    return thresholds, fractions


def ced_auc(y_true, y_pred, *, threshold=0.08, layout=None) -> float:
    """Area under the cumulative error distribution up to ``threshold``, divided by it.

    The 300-W convention: 1 means every face is perfect, 0 that every face fails. The
    area is computed exactly rather than on a grid of thresholds: a face with NME ``e``
    adds ``max(0, 1 - e / threshold)`` to the mean, which is the limit that the usual
    trapezoid rule over :func:`ced_curve` approaches as ``n_thresholds`` grows.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, 2 * n_keypoints)
        True keypoints, NaN where not annotated.
    y_pred : array-like of shape (n_samples, 2 * n_keypoints)
        Predicted keypoints; must be finite wherever ``y_true`` is annotated.
    threshold : float, default=0.08
        Upper end of the integral.
    layout : KeypointLayout, default=None
        Supplies the inter-ocular keypoints; None picks the built-in layout of that size.

    Returns
    -------
    auc : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import KeypointLayout
    >>> from skfkd.metrics import ced_auc
    >>> eyes = KeypointLayout("eyes", ("left", "right"), flip_pairs=((0, 1),), interocular=(0, 1))
    >>> y_true = np.array([[0.0, 0.0, 10.0, 0.0], [0.0, 0.0, 10.0, 0.0]])
    >>> y_pred = np.array([[0.0, 0.5, 10.0, 0.5], [0.0, 2.0, 10.0, 2.0]])  # NME 0.05, 0.2
    >>> ced_auc(y_true, y_pred, threshold=0.1, layout=eyes)  # (0.5 + 0) / 2
    0.25
    """
    threshold = _check_threshold(threshold)
    nme = _usable(_per_face_nme(y_true, y_pred, layout))
    return float(np.mean(np.clip(1.0 - nme / threshold, 0.0, None)))


def keypoint_r2_score(y_true, y_pred, *, sample_weight=None) -> float:
    """Coefficient of determination R² over the annotated coordinates.

    Each column is scored on the rows where it is annotated, and the columns are averaged
    uniformly: without NaN this equals :func:`sklearn.metrics.r2_score` with its default
    ``multioutput="uniform_average"``, which refuses NaN targets. Columns with no
    annotated row are left out. A column whose annotated values are all equal scores 1
    when predicted exactly and 0 otherwise, as in scikit-learn. This is what the skfkd
    regressors' ``score`` returns.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        True values, NaN where not annotated.
    y_pred : array-like of the same shape as ``y_true``
        Predictions; must be finite wherever ``y_true`` is annotated.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each row.

    Returns
    -------
    r2 : float
        At most 1; can be negative.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.metrics import keypoint_r2_score
    >>> y_true = [[1.0, np.nan], [2.0, 4.0], [3.0, 6.0]]
    >>> y_pred = [[1.0, 0.0], [2.0, 5.0], [3.0, 5.0]]
    >>> keypoint_r2_score(y_true, y_pred)  # the columns score 1 and 0
    0.5
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape or y_true.ndim not in (1, 2):
        raise ValueError(
            f"y_true and y_pred need the same 1-D or 2-D shape; got {y_true.shape} and {y_pred.shape}"
        )
    if y_true.ndim == 1:
        y_true, y_pred = y_true[:, None], y_pred[:, None]
    if np.isinf(y_true).any():
        raise ValueError("y_true holds an infinite value; mark unannotated coordinates with NaN")
    weight = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if weight.shape != (len(y_true),):
        raise ValueError(f"sample_weight needs shape ({len(y_true)},); got {weight.shape}")
    annotated = ~np.isnan(y_true)
    if not np.isfinite(y_pred[annotated]).all():
        raise ValueError("y_pred must be finite wherever y_true is annotated")
    scores = []
    for column in range(y_true.shape[1]):
        rows = annotated[:, column]
        w = weight[rows]
        if not rows.any() or w.sum() == 0:
            continue
        truth, pred = y_true[rows, column], y_pred[rows, column]
        residual = np.sum(w * (truth - pred) ** 2)
        total = np.sum(w * (truth - np.average(truth, weights=w)) ** 2)
        if total == 0:
            scores.append(1.0 if residual == 0 else 0.0)
        else:
            scores.append(1.0 - residual / total)
    if not scores:
        raise ValueError("y_true has no annotated coordinate to score")
    return float(np.mean(scores))


# Both scorers follow scikit-learn's neg_* scorers: model selection maximises the score,
# so an error comes back negated.

#: Scorer for :class:`~sklearn.model_selection.GridSearchCV` and
#: :func:`~sklearn.model_selection.cross_validate` returning ``-keypoint_rmse``: negated so
#: that greater is better, like scikit-learn's ``neg_root_mean_squared_error``. Flip the
#: sign to report the RMSE in pixels.
rmse_scorer = make_scorer(keypoint_rmse, greater_is_better=False)

#: Scorer returning ``-normalized_mean_error``, negated so that greater is better. The
#: layout is resolved from the number of columns; for another layout build your own with
#: ``make_scorer(normalized_mean_error, greater_is_better=False, layout=my_layout)``.
nme_scorer = make_scorer(normalized_mean_error, greater_is_better=False)
