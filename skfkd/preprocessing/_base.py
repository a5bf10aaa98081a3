"""Input handling shared by the image transformers: 2-D rows of pixels or 3-D stacks."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from skfkd._images import infer_image_shape


def _check_image_shape(image_shape):
    """``image_shape`` as a pair of positive ints, or None."""
    if image_shape is None:
        return None
    try:
        height, width = image_shape
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be a pair (height, width) or None; got {image_shape!r}") from None
    if not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in (height, width)
    ):
        raise ValueError(f"image_shape must hold two positive integers; got {image_shape!r}")
    return int(height), int(width)


def _ndim(X):
    """Number of dimensions of an array-like, without converting arrays that have one."""
    if hasattr(X, "ndim"):
        return X.ndim
    try:
        return np.asarray(X).ndim
    except (TypeError, ValueError):
        return None  # ragged or odd input: let sklearn's validation explain the problem


class _ImageTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base for transformers that map each image to an image of the same shape.

    ``X`` is 2-D ``(n_samples, height * width)`` or 3-D ``(n_samples, height, width)``; the
    output keeps the layout given and is float32. ``n_features_in_`` counts pixels
    (``height * width``) for both layouts, so a transformer fitted on rows transforms a
    stack of the same images and the other way round.
    """

    def _validate_images(self, X, *, reset):
        """Return ``(rows, stack_shape)``: X as float 2-D rows and its 3-D shape if it had one."""
        if _ndim(X) == 3:
            # sklearn's validate_data counts X.shape[1] as the features, which for a stack
            # would be the image height; validate the stack, then check the flattened rows.
            stack = check_array(X, allow_nd=True, dtype=(np.float32, np.float64), input_name="X")
            rows = validate_data(self, stack.reshape(len(stack), -1), reset=reset, dtype=None)
            return rows, stack.shape
        rows = validate_data(self, X, reset=reset, dtype=(np.float32, np.float64))
        return rows, None

    def _restore(self, rows, stack_shape):
        out = np.asarray(rows, dtype=np.float32)
        return out.reshape(stack_shape) if stack_shape is not None else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Output is float32 whatever comes in: images need no more precision, and float32
        # halves the memory of a batch of photos.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class _ShapedImageTransformer(_ImageTransformer):
    """An image transformer that needs each image's 2-D shape (not just its pixels)."""

    def _resolve_image_shape(self, X_rows, stack_shape):
        """Fit time: the (height, width) of the images in X, stored as ``image_shape_``."""
        image_shape = _check_image_shape(self.image_shape)
        n_features = X_rows.shape[1]
        if stack_shape is not None:
            if image_shape is not None and image_shape != tuple(stack_shape[1:]):
                raise ValueError(f"X holds {tuple(stack_shape[1:])} images but image_shape={image_shape}")
            return tuple(int(v) for v in stack_shape[1:])
        if image_shape is not None:
            return infer_image_shape(n_features, image_shape)
        side = math.isqrt(n_features)
        if side * side == n_features:
            return side, side
        # Any 2-D array is a valid sklearn input, so rather than refuse it we equalise each
        # row as a one-pixel-high strip, and say so: for real non-square images this is
        # rarely what is wanted.
        warnings.warn(
            f"X has {n_features} columns, which is not a square image; each row is treated as a "
            f"1 x {n_features} strip. Pass image_shape=(height, width) or a 3-D X for 2-D images.",
            UserWarning,
            stacklevel=3,
        )
        return 1, n_features

    def _stack_for_transform(self, X):
        """Transform time: X as ``(n, h, w)`` float images, and the shape to return."""
        check_is_fitted(self)
        rows, stack_shape = self._validate_images(X, reset=False)
        if stack_shape is not None and tuple(stack_shape[1:]) != self.image_shape_:
            raise ValueError(f"X holds {tuple(stack_shape[1:])} images but was fitted on {self.image_shape_}")
        out_shape = stack_shape if stack_shape is not None else rows.shape
        return rows.reshape(len(rows), *self.image_shape_), out_shape
