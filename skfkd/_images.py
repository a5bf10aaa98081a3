"""Image batches in the ``X`` convention: rows of pixels, or a stack of 2-D images."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["infer_image_shape", "as_image_stack"]


def _as_pair(image_shape) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be a pair (height, width); got {image_shape!r}") from None
    return height, width


def infer_image_shape(n_features, image_shape=None) -> tuple[int, int]:
    """The ``(height, width)`` of images stored as rows of ``n_features`` pixels.

    Square images are inferred from the row length; other shapes must be given.
    """
    if image_shape is not None:
        height, width = _as_pair(image_shape)
        if height < 1 or width < 1 or height * width != n_features:
            raise ValueError(
                f"image_shape={tuple(image_shape)} holds {height * width} pixels but X has {n_features} columns"
            )
        return height, width
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"X has {n_features} columns, which is not a square image; pass image_shape=(height, width) "
            "or give X as a 3-D array (n_samples, height, width)"
        )
    return side, side


def as_image_stack(X, image_shape=None) -> np.ndarray:
    """View ``X`` as ``(n, h, w)``: 3-D input as is, 2-D rows reshaped by their image shape."""
    X = np.asarray(X)
    if X.ndim == 3:
        if image_shape is not None and _as_pair(image_shape) != X.shape[1:]:
            raise ValueError(f"X holds {X.shape[1:]} images but image_shape={tuple(image_shape)}")
        return X
    if X.ndim != 2:
        raise ValueError(
            f"X must be (n_samples, height * width) or (n_samples, height, width); got {X.shape}"
        )
    return X.reshape(len(X), *infer_image_shape(X.shape[1], image_shape))
