"""Per-image intensity scaling."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skfkd._params import Interval, StrOptions
from skfkd.preprocessing._base import _ImageTransformer

__all__ = ["ImageScaler"]

# Divisors "auto" chooses from: the full scale of the common pixel encodings.
_FULL_SCALES = (1.0, 255.0, 65535.0)


class ImageScaler(_ImageTransformer):
    """Scale pixel intensities to [0, 1] or standardise each image.

    Parameters
    ----------
    method : {"unit", "standardize"}, default="unit"
        - ``"unit"``: divide every pixel by ``max_value_`` (see ``max_value``), so pixels
          that lie in ``[0, max_value_]`` end up in ``[0, 1]``. Nothing is shifted or
          clipped: 0 stays 0 and values above ``max_value_`` stay above 1.
        - ``"standardize"``: per image, subtract the image's mean and divide by its
          standard deviation (over all its pixels), giving each image zero mean and unit
          variance. This removes global brightness and contrast differences. A constant
          image (no variance) becomes all zeros. Nothing is learned from the training
          set in this mode.
    max_value : "auto" or float, default="auto"
        The full-scale pixel value used by ``method="unit"``. ``"auto"`` takes the
        smallest of 1, 255 and 65535 that is at least the largest pixel seen in ``fit``
        (so uint8 photos and floats in 0-255 are divided by 255, images already in [0, 1]
        are left alone, and 16-bit images are divided by 65535); if the data exceed
        65535, their maximum itself is used. A number fixes the divisor. Ignored by
        ``"standardize"``.

    Attributes
    ----------
    max_value_ : float
        The divisor of ``method="unit"`` (1.0 for ``"standardize"``, where it is unused).
    n_features_in_ : int
        Number of pixels per image seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    HistogramEqualizer : Local contrast equalisation (CLAHE).

    Notes
    -----
    ``X`` may be 2-D ``(n_samples, height * width)`` or 3-D ``(n_samples, height, width)``;
    the output has the shape given, in float32. Each row is scaled on its own, so the
    image shape is never needed.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.preprocessing import ImageScaler
    >>> X = np.array([[0, 51, 255, 102]], dtype=np.uint8)
    >>> ImageScaler().fit_transform(X)
    array([[0. , 0.2, 1. , 0.4]], dtype=float32)
    >>> Z = ImageScaler(method="standardize").fit_transform(X)
    >>> Z.round(3)
    array([[-1.069, -0.535,  1.604,  0.   ]], dtype=float32)
    >>> round(float(Z.mean()), 6), round(float(Z.std()), 6)
    (0.0, 1.0)
    """

    _parameter_constraints = {
        "method": [StrOptions({"unit", "standardize"})],
        "max_value": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, method="unit", max_value="auto"):
        self.method = method
        self.max_value = max_value

    def fit(self, X, y=None):
        """Check the parameters and, for ``method="unit"``, choose ``max_value_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width)
            Training images.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : ImageScaler
            The fitted scaler.
        """
        self._validate_params()
        rows, _ = self._validate_images(X, reset=True)
        if self.method == "standardize":
            self.max_value_ = 1.0
        elif self.max_value == "auto":
            peak = float(rows.max())
            self.max_value_ = next((s for s in _FULL_SCALES if peak <= s), peak)
        else:
            self.max_value_ = float(self.max_value)
        return self

    def transform(self, X):
        """Scale each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width)
            Images with as many pixels as those seen in ``fit``.

        Returns
        -------
        X_scaled : ndarray of float32, same shape as ``X``
            The scaled images.
        """
        check_is_fitted(self)
        rows, stack_shape = self._validate_images(X, reset=False)
        if self.method == "unit":
            return self._restore(rows / np.asarray(self.max_value_, dtype=rows.dtype), stack_shape)
        return self._restore(_standardize_rows(rows), stack_shape)


def _standardize_rows(rows):
    """Zero mean, unit variance per row, with constant rows mapped to zeros."""
    # Accumulate in float64: the mean of ~10^4 float32 pixels loses digits otherwise.
    mean = rows.mean(axis=1, keepdims=True, dtype=np.float64)
    centred = rows - mean
    std = np.sqrt(np.mean(np.square(centred), axis=1, keepdims=True))
    # A constant row's centred values are rounding noise, not signal: dividing them by
    # their own tiny std would blow the noise up to +-1. Treat a std below a relative
    # rounding bound as zero variance and leave the zeros alone (divide by 1).
    peak = np.max(np.abs(rows), axis=1, keepdims=True).astype(np.float64)
    constant = std <= 1e-6 * peak
    return np.where(constant, 0.0, centred / np.where(constant, 1.0, std))
