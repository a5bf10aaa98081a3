"""Deployment: ONNX export, an ONNX Runtime predictor, and model files that are safe to load.

- :func:`export_onnx` writes a fitted :class:`~skfkd.FacialKeypointRegressor` (alone, at
  the end of a ``Pipeline`` of :class:`~skfkd.preprocessing.ImageScaler` steps, or inside
  a :class:`~skfkd.faces.FaceLandmarker`) as an ONNX graph from raw pixels to keypoints in
  pixels, runnable without PyTorch.
- :class:`OnnxKeypointRegressor` predicts with such a graph on ONNX Runtime, with the
  scikit-learn API.
- :func:`save_model` and :func:`load_model` write and read skops files, which load
  without running code from the file (unlike joblib and pickle files).

The ONNX half needs the optional ``deploy`` extra (``pip install skfkd[deploy]``); skops
files need nothing beyond skfkd itself.
"""

from skfkd.deploy._onnx import export_onnx
from skfkd.deploy._persist import load_model, save_model
from skfkd.deploy._runtime import OnnxKeypointRegressor

__all__ = ["OnnxKeypointRegressor", "export_onnx", "load_model", "save_model"]
