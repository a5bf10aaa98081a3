"""Figures for keypoint work: faces with their keypoints, CED curves and learning curves.

Needs matplotlib, the optional ``plot`` extra (``pip install skfkd[plot]``). It is
imported when a function is called, so ``import skfkd.plotting`` works without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from skfkd._images import infer_image_shape
from skfkd._layout import resolve_layout
from skfkd.metrics import ced_auc, ced_curve, failure_rate

__all__ = ["plot_ced", "plot_history", "plot_keypoints"]


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "skfkd.plotting needs matplotlib; install it with `pip install skfkd[plot]`"
        ) from exc


def _new_axes_if_none(ax):
    _require_matplotlib()
    if ax is not None:
        return ax
    # pyplot only when we must create the figure, so that a caller's own Figure (e.g. in
    # a headless script) never touches pyplot's global state.
    import matplotlib.pyplot as plt

    return plt.subplots()[1]


def _as_image(image, image_shape):
    image = np.asarray(image)
    if image.ndim == 1:
        return image.reshape(infer_image_shape(image.size, image_shape))
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4)):
        if image_shape is not None and tuple(image_shape) != image.shape[:2]:
            raise ValueError(f"image has shape {image.shape} but image_shape={tuple(image_shape)}")
        return image
    raise ValueError(
        "image must be a flat row (h * w,), a grayscale (h, w) or an RGB(A) (h, w, 3 or 4) array; "
        f"got shape {image.shape}"
    )


def _as_points(keypoints):
    keypoints = np.asarray(keypoints, dtype=float)
    if keypoints.ndim == 1:
        if keypoints.size % 2:
            raise ValueError(
                f"flat keypoints need an even length [x0, y0, x1, y1, ...]; got {keypoints.size} values"
            )
        keypoints = keypoints.reshape(-1, 2)
    elif keypoints.ndim != 2 or keypoints.shape[1] != 2:
        raise ValueError(
            f"keypoints must have shape (n_keypoints, 2) or (2 * n_keypoints,); got {keypoints.shape}"
        )
    if len(keypoints) == 0:
        raise ValueError("keypoints is empty")
    if np.isinf(keypoints).any():
        raise ValueError("keypoints hold an infinite value; mark unannotated keypoints with NaN")
    return keypoints


def plot_keypoints(
    image,
    keypoints,
    *,
    layout=None,
    ax=None,
    color="tab:red",
    show_edges=True,
    image_shape=None,
    **scatter_kwargs,
):
    """Draw a face with its keypoints and the layout's contour lines.

    Coordinates are in pixels with ``x`` the column and ``y`` the row, and pixel ``i``
    centred on ``i``, as in skfkd's targets: the image is drawn with ``imshow``'s default
    extent and ``origin="upper"``. A keypoint with a NaN coordinate (unannotated) is not
    drawn, nor is any edge that touches it. The view stays on the image, so a point
    outside it is clipped.

    Parameters
    ----------
    image : array-like of shape (h * w,), (h, w) or (h, w, 3), or None
        The face: a row of ``X`` (reshaped as a square unless ``image_shape`` is given),
        a grayscale image (drawn with the ``gray`` colormap, autoscaled) or an RGB(A)
        image (uint8, or floats in [0, 1], as ``imshow`` expects). None draws the
        keypoints alone, with the ``y`` axis pointing down as in an image.
    keypoints : array-like of shape (n_keypoints, 2) or (2 * n_keypoints,)
        Points as ``(x, y)`` rows, or a row of targets ``[x0, y0, x1, y1, ...]``. NaN
        marks an unannotated keypoint.
    layout : KeypointLayout, default=None
        Supplies the edges. None picks the built-in layout with ``n_keypoints`` points
        (15: KAGGLE_15, 68: IBUG_68), or draws the points alone for other counts. A
        layout that is given must have ``n_keypoints`` points.
    ax : matplotlib Axes, default=None
        Where to draw; None creates a new figure.
    color : color, default="tab:red"
        Colour of the points and edges.
    show_edges : bool, default=True
        Join the keypoints along the layout's ``edges``.
    image_shape : (int, int), default=None
        ``(height, width)`` of a flat, non-square ``image``.
    **scatter_kwargs
        Passed to :meth:`~matplotlib.axes.Axes.scatter` (``s``, ``marker``, ...). Any
        per-point sequence must match the annotated keypoints only. Passing ``c``
        colours the points and leaves ``color`` to the edges.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.plotting import plot_keypoints
    >>> X, y = make_faces(1, image_size=48, random_state=0, return_X_y=True)
    >>> y[0, :2] = np.nan  # leave the first keypoint unannotated
    >>> ax = plot_keypoints(X[0], y[0], ax=Figure().add_subplot())
    >>> ax.images[0].get_array().shape
    (48, 48)
    >>> len(ax.collections[-1].get_offsets())  # 14 of the 15 points drawn
    14
    >>> len(ax.collections[0].get_segments())  # the two edges at keypoint 0 skipped
    8
    """
    points = _as_points(keypoints)
    if layout is None:
        try:
            layout = resolve_layout(None, len(points))
        except ValueError:
            pass  # no built-in layout of this size: draw the points without edges
    else:
        layout = resolve_layout(layout, len(points))
    if image is not None:
        image = _as_image(image, image_shape)
    ax = _new_axes_if_none(ax)

    if image is not None:
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        limits = ax.get_xlim(), ax.get_ylim()
    else:
        ax.set_aspect("equal")
        if not ax.yaxis_inverted():
            ax.invert_yaxis()

    annotated = ~np.isnan(points).any(axis=1)
    if show_edges and layout is not None:
        segments = [points[[i, j]] for i, j in layout.edges if annotated[i] and annotated[j]]
        if segments:
            from matplotlib.collections import LineCollection

            ax.add_collection(LineCollection(segments, colors=color, linewidths=1.0, alpha=0.8))
    if "c" not in scatter_kwargs:
        scatter_kwargs["color"] = color
    scatter_kwargs.setdefault("s", 12)
    ax.scatter(points[annotated, 0], points[annotated, 1], **scatter_kwargs)

    if image is not None:
        ax.set_xlim(limits[0])
        ax.set_ylim(limits[1])
    else:
        ax.autoscale_view()
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_ced(
    y_true,
    y_pred,
    *,
    threshold=0.08,
    n_thresholds=101,
    layout=None,
    ax=None,
    label=None,
    **plot_kwargs,
):
    """Plot cumulative error distribution (CED) curves, one per method.

    Each curve is :func:`~skfkd.metrics.ced_curve`: the fraction of faces whose NME is at
    most ``t``, for ``t`` from 0 to ``threshold``. The legend gives each method's
    :func:`~skfkd.metrics.ced_auc` and :func:`~skfkd.metrics.failure_rate` at the same
    threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, 2 * n_keypoints)
        True keypoints, NaN where not annotated.
    y_pred : array-like of shape (n_samples, 2 * n_keypoints) or dict
        Predicted keypoints, or a dict ``{name: y_pred}`` to compare several methods on
        one axes.
    threshold : float, default=0.08
        Largest NME on the curves, and the threshold of the AUC and failure rate.
    n_thresholds : int, default=101
        Number of points on each curve.
    layout : KeypointLayout, default=None
        Supplies the inter-ocular keypoints; None picks the built-in layout of that size.
    ax : matplotlib Axes, default=None
        Where to draw; None creates a new figure.
    label : str, default=None
        Legend name of a single ``y_pred`` ("prediction" when None). With a dict, its
        keys are the names.
    **plot_kwargs
        Passed to every :meth:`~matplotlib.axes.Axes.plot` call.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.plotting import plot_ced
    >>> _, y = make_faces(20, random_state=0, return_X_y=True)
    >>> rng = np.random.default_rng(0)
    >>> methods = {"close": y + rng.normal(0, 0.5, y.shape), "far": y + rng.normal(0, 3, y.shape)}
    >>> ax = plot_ced(y, methods, ax=Figure().add_subplot())
    >>> len(ax.lines)
    2
    >>> [text.get_text().split(" (")[0] for text in ax.get_legend().get_texts()]
    ['close', 'far']
    """
    if isinstance(y_pred, Mapping):
        if label is not None:
            raise ValueError(
                "label names a single y_pred; with a dict of predictions, the keys are the names"
            )
        if not y_pred:
            raise ValueError("y_pred is an empty dict; give at least one {name: predictions} entry")
        methods = dict(y_pred)
    else:
        methods = {"prediction" if label is None else label: y_pred}
    # Compute every curve before drawing, so that bad input leaves no half-drawn axes.
    curves = []
    for name, prediction in methods.items():
        thresholds, fractions = ced_curve(
            y_true, prediction, threshold=threshold, n_thresholds=n_thresholds, layout=layout
        )
        # ced_curve has already warned about faces left out of the NME; the same warning
        # from the two other metrics would only repeat it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            auc = ced_auc(y_true, prediction, threshold=threshold, layout=layout)
            rate = failure_rate(y_true, prediction, threshold=threshold, layout=layout)
        text = f"{name} (AUC@{threshold:g} {auc:.3f}, failure rate {rate:.1%})"
        curves.append((thresholds, fractions, text))
    ax = _new_axes_if_none(ax)
    for thresholds, fractions, text in curves:
        ax.plot(thresholds, fractions, label=text, **plot_kwargs)
    ax.set_xlim(0.0, threshold)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("NME (inter-ocular)")
    ax.set_ylabel("fraction of faces")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return ax


def _history_entries(history):
    """The list of per-epoch dicts held by an estimator, a skorch History or a list."""
    if isinstance(history, (list, tuple)):  # skorch's History is a list
        entries = list(history)
    elif hasattr(history, "history_"):
        entries = history.history_
        if not entries:
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"This {type(history).__name__} instance is not fitted yet, so it has no history to "
                "plot. Call 'fit' with appropriate arguments before using plot_history."
            )
        entries = list(entries)
    elif hasattr(history, "to_list"):  # e.g. skorch's DistributedHistory
        entries = history.to_list()
    else:
        raise TypeError(
            "history must be a fitted skfkd/skorch estimator, a skorch History or a list of dicts; "
            f"got {type(history).__name__}"
        )
    if not entries:
        raise ValueError("history is empty: it records no epoch")
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise TypeError(f"history entries must be dicts, one per epoch; got {type(entry).__name__}")
    return entries


def plot_history(history, *, ax=None, keys=("train_loss", "valid_loss"), logy=False):
    """Plot learning curves: losses (or any recorded value) per epoch.

    Parameters
    ----------
    history : FacialKeypointRegressor, skorch History or list of dict
        A fitted skorch estimator (its ``history_`` is read), a skorch ``History``, or
        one dict per epoch. The epoch number comes from each entry's ``"epoch"`` key,
        or its position (from 1) where the key is missing.
    ax : matplotlib Axes, default=None
        Where to draw; None creates a new figure.
    keys : str or sequence of str, default=("train_loss", "valid_loss")
        Values to plot, one line each. A key recorded in no epoch is skipped (there is
        no ``valid_loss`` when the estimator trained with ``train_split=None``); a key
        recorded in some epochs only is drawn for those.
    logy : bool, default=False
        Log-scale ``y`` axis; every plotted value must then be positive.

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When ``history`` is an estimator that has not been fitted.
    ValueError
        When none of ``keys`` is recorded, or the history is empty.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from skfkd.plotting import plot_history
    >>> history = [
    ...     {"epoch": 1, "train_loss": 0.9, "valid_loss": 1.0},
    ...     {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.7},
    ...     {"epoch": 3, "train_loss": 0.4, "valid_loss": 0.6},
    ... ]
    >>> ax = plot_history(history, ax=Figure().add_subplot())
    >>> [line.get_label() for line in ax.lines]
    ['train_loss', 'valid_loss']
    >>> ax.lines[1].get_ydata().tolist()
    [1.0, 0.7, 0.6]
    """
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    if not keys:
        raise ValueError("keys is empty; name at least one recorded value, e.g. 'train_loss'")
    entries = _history_entries(history)
    curves = []
    for key in keys:
        epochs, values = [], []
        for position, entry in enumerate(entries, start=1):
            if key not in entry:
                continue
            try:
                values.append(float(entry[key]))
            except (TypeError, ValueError):
                raise ValueError(
                    f"history[{position - 1}][{key!r}] is {entry[key]!r}, not a number to plot"
                ) from None
            epochs.append(entry.get("epoch", position))
        if values:
            curves.append((key, epochs, values))
    if not curves:
        # "batches" holds per-batch records, not a per-epoch value that could be plotted.
        recorded = sorted({key for entry in entries for key in entry} - {"batches", "epoch"})
        raise ValueError(f"none of the keys {list(keys)} is in the history; it records {recorded}")
    if logy and any(value <= 0 for _, _, values in curves for value in values):
        raise ValueError("logy=True needs positive values; some of the plotted values are zero or negative")

    ax = _new_axes_if_none(ax)
    from matplotlib.ticker import MaxNLocator

    for key, epochs, values in curves:
        ax.plot(epochs, values, marker="." if len(values) < 30 else None, label=key)
    if logy:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" if all(key.endswith("loss") for key, _, _ in curves) else "value")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax
