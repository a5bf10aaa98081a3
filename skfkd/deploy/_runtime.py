"""OnnxKeypointRegressor: predict keypoints with an exported graph on ONNX Runtime."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_array

from skfkd._images import infer_image_shape, split_channels
from skfkd._params import check_params, positive_int
from skfkd.deploy._extra import require
from skfkd.metrics import keypoint_r2_score

__all__ = ["OnnxKeypointRegressor"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_ONNX_TYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8}


@dataclass(frozen=True)
class _Graph:
    """An ONNX Runtime session and what the file says about its input and output."""

    session: object
    input_name: str
    input_dtype: type
    image_shape: tuple[int, ...]  # (h, w), or (h, w, 3) for RGB
    n_outputs: int
    key: tuple


class OnnxKeypointRegressor(RegressorMixin, BaseEstimator):
    """Predict keypoints with an ONNX graph from :func:`export_onnx`, on ONNX Runtime.

    A predict-only estimator with the scikit-learn API: ``predict`` and ``score`` take
    the images that the exported model took, and return what it returned (keypoints in
    pixels, ``(n_samples, 2 * n_keypoints)``), without PyTorch. It cannot be fitted:
    train a :class:`~skfkd.FacialKeypointRegressor` and export it. The file is read on
    first use; a pickled or :func:`save_model`-saved copy carries the graph with it.

    To predict on photos, export a fitted :class:`~skfkd.faces.FaceLandmarker`:
    ``export_onnx(landmarker, path)`` returns a copy of it whose ``regressor_`` is an
    ``OnnxKeypointRegressor``.

    Parameters
    ----------
    path : str or path-like
        An ``.onnx`` file written by :func:`export_onnx`, or any graph with one input
        ``(n, height * width)`` (float32 or uint8) and one output ``(n, 2 * n_keypoints)``
        (square gray images unless the file records its image shape, such as
        ``height,width,3`` for RGB).
    n_threads : int or None, default=1
        Threads ONNX Runtime uses within an operator. On a busy 2-core CPU one thread
        gave the steadiest single-face latency (two threads gave no better median and a
        95th percentile several times longer: the second thread waits for a core); more
        threads can raise the throughput of large batches on an idle machine (see
        :ref:`deploying`). None lets ONNX Runtime choose (one per physical core).
    batch_size : int, default=256
        Images per ONNX Runtime call; bounds the memory of large ``X``.

    Attributes
    ----------
    image_shape_ : (int, int)
        Height and width of the images the graph takes.
    n_channels_ : int
        1 for gray images, 3 for RGB.
    n_features_in_ : int
        Values per image: ``height * width * n_channels_``.
    n_outputs_ : int
        ``2 * n_keypoints``.
    input_dtype_ : numpy dtype
        Element type of the graph's input (float32 or uint8).

    See Also
    --------
    export_onnx : Write the graph.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skfkd import FacialKeypointRegressor
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.deploy import OnnxKeypointRegressor, export_onnx
    >>> X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    >>> model = FacialKeypointRegressor(max_epochs=1, random_state=0).fit(X, y)
    >>> path = Path(tempfile.mkdtemp()) / "model.onnx"
    >>> _ = export_onnx(model, path)
    >>> onnx_model = OnnxKeypointRegressor(path)
    >>> onnx_model.image_shape_, onnx_model.n_outputs_
    ((32, 32), 30)
    >>> onnx_model.predict(X[:2]).shape
    (2, 30)
    """

    _parameter_constraints = {
        "path": [str, os.PathLike],
        "n_threads": [positive_int, None],
        "batch_size": [positive_int],
    }

    def __init__(self, path, *, n_threads=1, batch_size=256):
        self.path = path
        self.n_threads = n_threads
        self.batch_size = batch_size

    # -- the graph -------------------------------------------------------------------

    def _graph(self):
        key = (os.fspath(self.path), self.n_threads)
        graph = self.__dict__.get("_graph_cache")
        if graph is None or graph.key != key:
            graph = self._load(self._model_bytes(), key)
            self._graph_cache = graph
        return graph

    def _model_bytes(self):
        source = os.fspath(self.path)
        if self.__dict__.get("_bytes_source") != source:
            self._use_model_bytes(_read_model_file(Path(source)))
        return self._bytes

    def _use_model_bytes(self, data):
        """Predict with ``data`` (an ONNX model's bytes) rather than read ``path``."""
        self._bytes, self._bytes_source = data, os.fspath(self.path)
        self.__dict__.pop("_graph_cache", None)

    def _check_carried_graph(self):
        """For a model read from a file: it must carry its graph's bytes, so that it never
        reads the path the file names (which could be any file on this machine)."""
        if not isinstance(self.__dict__.get("_bytes"), bytes) or self.__dict__.get(
            "_bytes_source"
        ) != os.fspath(self.path):
            raise ValueError("an OnnxKeypointRegressor in a model file must carry its graph")

    def _load(self, data, key):
        ort = require("onnxruntime")
        check_params(self._parameter_constraints, self.get_params(), type(self).__name__)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1  # the graph is a chain: nothing runs side by side
        if self.n_threads is not None:
            options.intra_op_num_threads = self.n_threads
        try:
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 (onnxruntime raises its own types for bad files)
            raise ValueError(
                f"{self.path} is not an ONNX model that ONNX Runtime can load (a truncated or damaged file?): "
                f"{type(error).__name__}: {error}"
            ) from None
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if (
            len(inputs) != 1
            or len(inputs[0].shape) != 2
            or not isinstance(inputs[0].shape[1], int)
            or inputs[0].type not in _ONNX_TYPES
            or not outputs
            or len(outputs[0].shape) != 2
            or not isinstance(outputs[0].shape[1], int)
            or outputs[0].shape[1] % 2
        ):
            raise ValueError(
                f"{self.path} is not a keypoint model: expected one input (n, height * width) of float32 or "
                "uint8 pixels and an output (n, 2 * n_keypoints), as export_onnx writes; got inputs "
                f"{[(i.name, i.type, i.shape) for i in inputs]} and outputs {[(o.name, o.shape) for o in outputs]}"
            )
        n_features = inputs[0].shape[1]
        recorded = session.get_modelmeta().custom_metadata_map.get("skfkd_image_shape")
        image_shape = tuple(int(side) for side in recorded.split(",")) if recorded else None
        return _Graph(
            session=session,
            input_name=inputs[0].name,
            input_dtype=_ONNX_TYPES[inputs[0].type],
            image_shape=infer_image_shape(n_features, image_shape, allow_colour=True),
            n_outputs=outputs[0].shape[1],
            key=key,
        )

    @property
    def image_shape_(self):
        return split_channels(self._graph().image_shape)[0]

    @property
    def n_channels_(self):
        return split_channels(self._graph().image_shape)[1]

    @property
    def n_features_in_(self):
        return int(np.prod(self._graph().image_shape))

    @property
    def n_outputs_(self):
        return self._graph().n_outputs

    @property
    def input_dtype_(self):
        return np.dtype(self._graph().input_dtype)

    def __sklearn_is_fitted__(self):
        return True  # the graph is the fitted model

    def __getstate__(self):
        # The graph's bytes travel with the estimator; the session is rebuilt from them.
        state = super().__getstate__()
        state["_bytes"], state["_bytes_source"] = self._model_bytes(), os.fspath(self.path)
        state.pop("_graph_cache", None)
        return state

    # -- the sklearn API -------------------------------------------------------------

    def fit(self, X=None, y=None):
        """Not available: the graph is a model trained elsewhere.

        Raises
        ------
        TypeError
            Always.
        """
        raise TypeError(
            "OnnxKeypointRegressor predicts with an exported model and cannot be fitted: train a "
            "FacialKeypointRegressor (or a FaceLandmarker) and export it with skfkd.deploy.export_onnx"
        )

    def predict(self, X):
        """Predict keypoints in pixels.

        The images are checked, converted and run in batches of ``batch_size``, so
        memory beyond ``X`` and the result stays that of one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width), (n_samples, height, width) or (n_samples, height, width, 3)
            Images of the exported size and channels. A uint8 graph takes integer pixels
            in 0-255 of any dtype.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, 2 * n_keypoints)
        """
        check_params(self._parameter_constraints, self.get_params(), type(self).__name__)
        graph = self._graph()
        if not (isinstance(X, np.ndarray) and X.dtype.kind in "uif" and X.ndim in (2, 3, 4) and len(X)):
            X = check_array(X, allow_nd=True, dtype="numeric", input_name="X")
        predictions = np.empty((len(X), graph.n_outputs))
        for start in range(0, len(X), self.batch_size):
            rows = self._validate_images(X[start : start + self.batch_size], graph)
            predictions[start : start + len(rows)] = graph.session.run(None, {graph.input_name: rows})[0]
        broken = ~np.isfinite(predictions).all(axis=1)
        if broken.any():
            raise FloatingPointError(
                f"the graph predicted NaN or infinity for {broken.sum()} of {len(X)} images (the first: row "
                f"{np.flatnonzero(broken)[0]})"
            )
        return predictions

    def _validate_images(self, X, graph):
        """One batch of ``X`` (a numeric array) as the graph's input rows."""
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinity")
        if X.dtype.kind == "f" and np.abs(X).max(initial=0) > _FLOAT32_MAX:
            raise ValueError(
                f"X holds the pixel value {X.flat[np.argmax(np.abs(X))]:.4g}, beyond the range of float32 (about "
                "±3.4e38), the graph's precision; scale the images first"
            )
        shape = graph.image_shape
        if X.ndim in (3, 4):
            if X.shape[1:] != shape:
                raise ValueError(f"X holds {X.shape[1:]} images but the ONNX model takes {shape} images")
            rows = X.reshape(len(X), -1)
        elif X.ndim == 2:
            rows = X
            if rows.shape[1] != np.prod(shape):
                size = "x".join(map(str, shape))
                raise ValueError(
                    f"X has {rows.shape[1]} pixels per image but the ONNX model takes {size} images "
                    f"({np.prod(shape)} values per row)"
                )
        else:
            raise ValueError(
                "X must be (n_samples, height * width), (n_samples, height, width) or (n_samples, height, "
                f"width, 3); got {X.shape}"
            )
        if graph.input_dtype is np.uint8 and rows.dtype != np.uint8:
            if not (np.all(rows >= 0) and np.all(rows <= 255) and np.all(rows == np.round(rows))):
                raise ValueError(
                    "this ONNX model takes 8-bit pixels (exported with input_dtype='uint8'), but X holds "
                    "values that are not integers in 0-255; export with input_dtype='float32' for such input"
                )
        return np.ascontiguousarray(rows, dtype=graph.input_dtype)

    def score(self, X, y, sample_weight=None):
        """R² over the annotated coordinates (:func:`skfkd.metrics.keypoint_r2_score`).

        As :meth:`skfkd.FacialKeypointRegressor.score`: NaN marks an unannotated
        coordinate, left out of the score.

        Returns
        -------
        score : float
        """
        y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite="allow-nan", input_name="y")
        if y.ndim != 2 or y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has shape {y.shape} but the ONNX model predicts {self.n_outputs_ // 2} keypoints "
                f"({self.n_outputs_} columns)"
            )
        return keypoint_r2_score(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags


def _read_model_file(path):
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected an .onnx file written by skfkd.deploy.export_onnx")
    if not path.is_file():
        raise FileNotFoundError(f"the ONNX model file {path} does not exist")
    data = path.read_bytes()
    if not data:
        raise ValueError(f"{path} is empty; expected an .onnx file written by skfkd.deploy.export_onnx")
    return data
