"""Export a fitted keypoint regressor to an ONNX graph from raw pixels to pixel keypoints."""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

import skfkd
from skfkd.deploy._extra import require

__all__ = ["export_onnx"]

INPUT_DTYPES = ("float32", "uint8")
# Exported graphs are checked against the model's own predict on a few images; the two run
# the same float32 arithmetic in different kernels, which agree to ~1e-5 pixels.
PARITY_TOLERANCE = 1e-3


def export_onnx(model, path, *, input_dtype="float32"):
    """Write a fitted keypoint model as an ONNX graph, and predict with it on ONNX Runtime.

    The graph takes the images as you would pass them to ``model.predict`` and returns
    what it returns: the input is ``images``, shape ``(n, height * width)`` with any
    ``n`` (``(n, height * width * 3)`` for a model fitted on RGB images, each row an
    image flattened channels last), and the output ``keypoints``, shape ``(n, 2 * n_keypoints)`` in pixels, in the
    ``[kp0_x, kp0_y, ...]`` order. Everything ``predict`` does between the two is inside
    the graph, traced from the model's own torch code: the pipeline's
    :class:`~skfkd.preprocessing.ImageScaler` steps, the regressor's input
    standardisation, the network, the scaling of the outputs back to pixels and, when the
    regressor has ``flip_test`` set, the mirrored second pass and its average. The graph
    is checked with ``onnx.checker`` and against ``model.predict`` on a few images before
    it is written.

    Parameters
    ----------
    model : FacialKeypointRegressor, Pipeline or FaceLandmarker
        A fitted :class:`~skfkd.FacialKeypointRegressor`; a fitted ``Pipeline`` of
        :class:`~skfkd.preprocessing.ImageScaler` steps ending in one (other steps,
        such as :class:`~skfkd.preprocessing.HistogramEqualizer`, have no ONNX
        translation and raise an error naming them); or a fitted
        :class:`~skfkd.faces.FaceLandmarker` whose regressor is one of these: its
        regressor is exported, and face detection stays in Python.
    path : str or path-like
        The ``.onnx`` file to write (overwritten if it exists).
    input_dtype : {"float32", "uint8"}, default="float32"
        Element type of the graph's input. Pixels of any scale go into a float32 graph
        (``OnnxKeypointRegressor`` converts float64 and integer arrays); a uint8 graph
        takes 8-bit pixels as they come from a camera or an image file, a quarter of the
        bytes, and casts them to float inside.

    Returns
    -------
    onnx_model : OnnxKeypointRegressor or FaceLandmarker
        The exported model on ONNX Runtime: an :class:`OnnxKeypointRegressor` reading
        ``path``, or, for a landmarker, a copy of it whose regressor is that
        :class:`OnnxKeypointRegressor` (save it with :func:`save_model`; it cannot be
        refitted).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When the model (or a step of it) is not fitted.
    ValueError
        When the model is not one of the above, a pipeline step cannot be exported, or
        ``flip_test`` is set but there is no left/right layout to mirror with.

    See Also
    --------
    OnnxKeypointRegressor : Predict with the exported graph.
    save_model : A safe file of the model itself (with its torch weights).

    Notes
    -----
    Needs torch 2.6 or later (its ``torch.export``-based ONNX exporter), onnx and
    onnxscript, and onnxruntime for the check: ``pip install skfkd[deploy]``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from skfkd import FacialKeypointRegressor
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.deploy import export_onnx
    >>> X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    >>> model = FacialKeypointRegressor(max_epochs=1, random_state=0).fit(X, y)
    >>> onnx_model = export_onnx(model, Path(tempfile.mkdtemp()) / "model.onnx")
    >>> onnx_model.predict(X[:3]).shape
    (3, 30)
    >>> bool(np.abs(onnx_model.predict(X) - model.predict(X)).max() < 1e-3)
    True
    """
    from skfkd.deploy._runtime import OnnxKeypointRegressor

    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {INPUT_DTYPES}; got {input_dtype!r}")
    landmarker = None
    # A photo landmarker is told by what it does (predict_faces), not by its class: deploy
    # sits below skfkd.faces, which loads its pretrained model through deploy.
    if hasattr(model, "predict_faces"):
        _check_fitted(model, "regressor_", f"the {type(model).__name__}")
        landmarker, model = model, model.regressor_
    regressor, scalers, steps = _unpack(model)
    torch = _require_exporter()
    onnx = require("onnx")

    from skfkd.deploy._graph import KeypointGraph

    graph = KeypointGraph(regressor, scalers).eval()
    example = _check_images(regressor, scalers, input_dtype)
    with _quiet_exporter():
        program = torch.onnx.export(
            graph,
            (torch.as_tensor(example[:2]),),
            input_names=["images"],
            output_names=["keypoints"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    shape = regressor._input_shape
    what = (
        f"{shape[0]}x{shape[1]} RGB images, row by row, channels last"
        if len(shape) == 3
        else (f"{shape[0]}x{shape[1]} images, row by row")
    )
    proto.doc_string = (
        f"skfkd {skfkd.__version__}: {' -> '.join(steps)}. Input 'images': (n, {np.prod(shape)}) "
        f"{input_dtype} pixels of {what}; output 'keypoints': "
        f"(n, {regressor.n_outputs_}) pixel coordinates [kp0_x, kp0_y, ...]."
    )
    onnx.helper.set_model_props(
        proto,
        {
            "skfkd_version": skfkd.__version__,
            "skfkd_image_shape": ",".join(str(side) for side in shape),
            "skfkd_n_keypoints": str(regressor.n_outputs_ // 2),
            "skfkd_layout": regressor.layout_.name if regressor.layout_ is not None else "",
            "skfkd_flip_test": str(regressor.flip_test).lower(),
            "skfkd_steps": " -> ".join(steps),
        },
    )
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    onnx_regressor = OnnxKeypointRegressor(path)
    onnx_regressor._use_model_bytes(data)
    _check_parity(model, onnx_regressor, example)
    Path(path).write_bytes(data)
    if landmarker is None:
        return onnx_regressor
    exported = copy.copy(landmarker)
    exported.regressor = exported.regressor_ = onnx_regressor
    return exported


def _check_parity(model, onnx_regressor, images):
    error = float(np.abs(onnx_regressor.predict(images) - model.predict(images)).max())
    if not error <= PARITY_TOLERANCE:
        raise RuntimeError(
            f"the exported graph predicts up to {error:.3g} px away from the model's predict; the export "
            "does not reproduce the model (a step the tracer cannot see?). Please report this."
        )


def _check_fitted(estimator, attribute, what):
    try:
        check_is_fitted(estimator, attribute)
    except NotFittedError:
        raise NotFittedError(f"{what} is not fitted; fit it before exporting it to ONNX") from None


def _unpack(model):
    """The regressor, its ImageScaler steps and the step names of ``model``."""
    from skfkd.neural import FacialKeypointRegressor
    from skfkd.preprocessing import ImageScaler

    if isinstance(model, Pipeline):
        named = [(name, step) for name, step in model.steps if step not in (None, "passthrough")]
        if not named:
            raise ValueError("the Pipeline has no steps to export")
        *transforms, (last_name, regressor) = named
    else:
        transforms, last_name, regressor = [], type(model).__name__, model
    if not isinstance(regressor, FacialKeypointRegressor):
        where = f"the Pipeline's last step {last_name!r} is" if isinstance(model, Pipeline) else "got"
        raise ValueError(
            "export_onnx takes a FacialKeypointRegressor, a Pipeline of ImageScaler steps ending in one, "
            f"or a FaceLandmarker holding one; {where} a {type(regressor).__name__}"
        )
    for name, step in transforms:
        if not isinstance(step, ImageScaler):
            raise ValueError(
                f"the Pipeline step {name!r} ({type(step).__name__}) cannot be exported to ONNX: only "
                "skfkd.preprocessing.ImageScaler steps have a translation. Export the regressor alone, "
                "export_onnx(pipeline[-1], path), and run pipeline[:-1].transform(X) before predicting"
            )
        _check_fitted(step, "max_value_", f"the Pipeline step {name!r}")
    _check_fitted(regressor, "n_outputs_", f"the {type(regressor).__name__}")
    regressor._flip_permutation()  # a flip test without flip pairs says so before any tracing
    steps = [type(step).__name__ for _, step in transforms] + [type(regressor).__name__]
    return regressor, [step for _, step in transforms], steps


def _require_exporter():
    torch = require("torch")
    require("onnxscript")
    major, minor = (int(part) for part in torch.__version__.split(".")[:2])
    if (major, minor) < (2, 6):
        raise ImportError(
            f"export_onnx needs torch 2.6 or later (its ONNX exporter); torch is {torch.__version__}"
        )
    return torch


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's notices that concern torch itself, not the model exported."""
    registration = logging.getLogger(
        "torch.onnx._internal.exporter._registration"
    )  # "torchvision is not installed"
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning
            )
            yield
    finally:
        registration.setLevel(level)


def _check_images(regressor, scalers, input_dtype):
    """A few images in the range the model was trained on, for tracing and the parity check."""
    rng = np.random.default_rng(0)
    shape = (4, int(regressor.n_features_in_))
    if input_dtype == "uint8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if scalers:
        top = scalers[0].max_value_ if scalers[0].method == "unit" else 255.0
        return rng.uniform(0, top, shape).astype(np.float32)
    mean, std = getattr(regressor, "input_mean_", None), getattr(regressor, "input_std_", None)
    low, high = (0.0, 255.0) if mean is None or std is None else (mean - 1.7 * std, mean + 1.7 * std)
    return rng.uniform(low, high, shape).astype(np.float32)
