"""Histogram-of-oriented-gradients features, one vector per image."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from skimage.feature import hog
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from skfkd._images import infer_image_shape
from skfkd._params import positive_int


class HOGFeatures(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Turn each grayscale image into its HOG descriptor (:func:`skimage.feature.hog`).

    Histograms of gradient orientations are robust to lighting and small shifts, which
    makes them a strong classical input for a linear keypoint regressor
    (``make_pipeline(HOGFeatures(), MaskedMultiOutputRegressor(Ridge()))``).

    Images come either flattened, ``(n_samples, height * width)``, or as
    ``(n_samples, height, width)``. Flattened images are taken to be square unless
    ``image_shape`` says otherwise. The transformer learns nothing but the image size;
    :meth:`transform` refuses images of another size.

    Parameters
    ----------
    orientations : int, default=9
        Number of orientation bins.
    pixels_per_cell : (int, int), default=(8, 8)
        Size of a cell in pixels, (rows, columns).
    cells_per_block : (int, int), default=(2, 2)
        Number of cells in each block over which histograms are normalised.
    image_shape : (int, int), default=None
        ``(height, width)`` of flattened images. None infers a square from the width.

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(height, width)`` of the images seen during :meth:`fit`.
    n_features_in_ : int
        Number of pixels per image seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.baselines import HOGFeatures
    >>> images = np.random.default_rng(0).random((2, 32 * 32))
    >>> hog = HOGFeatures().fit(images)
    >>> hog.image_shape_
    (32, 32)
    >>> hog.transform(images).shape  # 3x3 blocks of 2x2 cells of 9 bins
    (2, 324)
    """

    _parameter_constraints = {
        "orientations": [positive_int],
        "pixels_per_cell": [tuple, list],
        "cells_per_block": [tuple, list],
        "image_shape": [tuple, list, None],
    }

    def __init__(self, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), image_shape=None):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.image_shape = image_shape

    def _flatten(self, X):
        """Flatten 3-D image stacks; return (2-D X, image shape or None for flat input)."""
        if sparse.issparse(X):
            return X, None
        if not hasattr(X, "shape"):  # nested lists and other array-likes
            X = np.asarray(X)
        if len(X.shape) == 3:
            images = check_array(X, allow_nd=True, dtype=np.float64, input_name="X")
            return images.reshape(len(images), -1), tuple(images.shape[1:])
        return X, None

    def _shape_for(self, n_pixels, stacked_shape):
        """The (height, width) of the fitted images, from a 3-D X or from image_shape."""
        if stacked_shape is None:
            return infer_image_shape(n_pixels, self.image_shape)
        if self.image_shape is not None and tuple(self.image_shape) != stacked_shape:
            raise ValueError(f"X holds {stacked_shape} images but image_shape={tuple(self.image_shape)}")
        return stacked_shape

    def _descriptors(self, flat_images):
        images = flat_images.reshape(-1, *self.image_shape_)
        features = [
            hog(
                image,
                orientations=self.orientations,
                pixels_per_cell=tuple(self.pixels_per_cell),
                cells_per_block=tuple(self.cells_per_block),
                feature_vector=True,
            )
            for image in images
        ]
        return np.asarray(features, dtype=np.float64).reshape(len(images), -1)

    def fit(self, X, y=None):
        """Record the image size, checking that HOG can describe images of that size.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width) or (n_samples, height, width)
            Grayscale images.
        y : None
            Ignored.

        Returns
        -------
        self : HOGFeatures
            The fitted transformer.
        """
        self._validate_params()
        X, stacked_shape = self._flatten(X)
        X = validate_data(self, X, dtype=np.float64, reset=True)
        self.image_shape_ = self._shape_for(X.shape[1], stacked_shape)
        # Describing one blank image surfaces skimage's "image too small" error at fit
        # time and gives the output width for get_feature_names_out.
        self._n_features_out = self._descriptors(np.zeros((1, X.shape[1]))).shape[1]
        return self

    def transform(self, X):
        """Compute the HOG descriptor of every image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width) or (n_samples, height, width)
            Grayscale images of the size seen during :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_samples, n_hog_features)
        """
        check_is_fitted(self)
        self._validate_params()  # at use too: a model file may carry any value
        X, stacked_shape = self._flatten(X)
        if stacked_shape is not None and stacked_shape != self.image_shape_:
            raise ValueError(
                f"images are {stacked_shape[0]}x{stacked_shape[1]} but HOGFeatures was fit on "
                f"{self.image_shape_[0]}x{self.image_shape_[1]} images"
            )
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._descriptors(X)
