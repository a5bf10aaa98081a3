"""Transformers of the images ``X`` alone, for use in front of any regressor.

Each accepts 2-D ``(n_samples, height * width)`` or 3-D ``(n_samples, height, width)``
images, keeps the shape it was given and returns float32.
"""

from skfkd.preprocessing._clahe import HistogramEqualizer
from skfkd.preprocessing._scaler import ImageScaler

__all__ = ["HistogramEqualizer", "ImageScaler"]
