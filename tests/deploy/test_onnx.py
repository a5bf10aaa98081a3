import copy
import pickle

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from skfkd.datasets import make_faces
from skfkd.deploy import OnnxKeypointRegressor, export_onnx, load_model, save_model
from skfkd.deploy._graph import ImageScalerGraph
from skfkd.deploy._onnx import _check_parity
from skfkd.metrics import keypoint_r2_score
from skfkd.preprocessing import HistogramEqualizer, ImageScaler


def _max_error(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


# --------------------------------------------------------------------------- the graph


def test_the_graph_passes_the_checker_and_says_what_it_takes(exported, fitted):
    _, path = exported
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    (images,), (keypoints,) = model.graph.input, model.graph.output
    dims = [d.dim_param or d.dim_value for d in images.type.tensor_type.shape.dim]
    assert images.name == "images" and isinstance(dims[0], str) and dims[1] == 32 * 32
    assert images.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert keypoints.name == "keypoints"
    assert keypoints.type.tensor_type.shape.dim[1].dim_value == fitted.n_outputs_
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    assert metadata["skfkd_image_shape"] == "32,32" and metadata["skfkd_n_keypoints"] == "15"
    assert metadata["skfkd_layout"] == "kaggle_15" and metadata["skfkd_flip_test"] == "false"


def test_predictions_match_torch_on_new_faces(exported, fitted):
    onnx_model, _ = exported
    X = make_faces(200, image_size=32, random_state=5).data  # uint8, not seen in training
    expected = fitted.predict(X)
    assert _max_error(onnx_model.predict(X), expected) < 1e-3
    # float64 and float32 pixels give the same result as the uint8 ones.
    assert _max_error(onnx_model.predict(X.astype(np.float64)), expected) < 1e-3
    assert _max_error(onnx_model.predict(X.reshape(-1, 32, 32)), expected) < 1e-3
    predicted = onnx_model.predict(X)
    assert predicted.dtype == np.float64 and predicted.shape == (200, 30)
    assert onnx_model.score(X, make_faces(200, image_size=32, random_state=5).target) == pytest.approx(
        fitted.score(X, make_faces(200, image_size=32, random_state=5).target), abs=1e-6
    )


def test_the_heatmap_head_saves_loads_and_exports_with_the_same_predictions(small_regressor, faces, tmp_path):
    model = small_regressor(module__head="heatmap", module__heatmap_stages=(0, 1, 2))
    model.fit(faces.data, faces.target)
    X = make_faces(40, image_size=32, random_state=6).data
    expected = model.predict(X)
    save_model(model, tmp_path / "heatmap.skops")
    np.testing.assert_array_equal(load_model(tmp_path / "heatmap.skops").predict(X), expected)
    assert _max_error(export_onnx(model, tmp_path / "heatmap.onnx").predict(X), expected) < 1e-3


def test_any_batch_size_runs_in_the_graph_itself(exported, fitted):
    _, path = exported
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    X = make_faces(300, image_size=32, random_state=6).data
    expected = fitted.predict(X)
    for n in (1, 2, 37, 300):
        (out,) = session.run(None, {"images": X[:n].astype(np.float32)})
        assert out.shape == (n, 30) and _max_error(out, expected[:n]) < 1e-3
    # Batching inside predict changes nothing either.
    chunked = OnnxKeypointRegressor(path, batch_size=7).predict(X[:50])
    assert _max_error(chunked, expected[:50]) < 1e-3


def test_a_uint8_graph_takes_8_bit_pixels(fitted, faces, tmp_path):
    onnx_model = export_onnx(fitted, tmp_path / "uint8.onnx", input_dtype="uint8")
    assert onnx_model.input_dtype_ == np.uint8
    graph_input = onnx.load(tmp_path / "uint8.onnx").graph.input[0]
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    X = faces.data
    assert _max_error(onnx_model.predict(X), fitted.predict(X)) < 1e-3
    # Integer-valued floats are 8-bit pixels too; anything else is refused, not rounded.
    assert _max_error(onnx_model.predict(X.astype(float)), fitted.predict(X)) < 1e-3
    with pytest.raises(ValueError, match="takes 8-bit pixels"):
        onnx_model.predict(X / 255.0)
    with pytest.raises(ValueError, match="takes 8-bit pixels"):
        onnx_model.predict(X.astype(float) + 256)


def test_a_pipeline_with_per_image_standardisation_is_exported_whole(faces, tmp_path, small_regressor):
    pipeline = make_pipeline(ImageScaler(method="standardize"), small_regressor())
    pipeline.fit(faces.data, faces.target)
    onnx_model = export_onnx(pipeline, tmp_path / "pipeline.onnx")
    X = make_faces(50, image_size=32, random_state=7).data.astype(np.float64)
    X[0] = 17.0  # a constant image: standardised to zeros, not to rounding noise
    X[1] = X[1] * 3 + 40  # brightness and contrast are standardised away
    assert _max_error(onnx_model.predict(X), pipeline.predict(X)) < 1e-3
    steps = {p.key: p.value for p in onnx.load(tmp_path / "pipeline.onnx").metadata_props}["skfkd_steps"]
    assert steps == "ImageScaler -> FacialKeypointRegressor"


@given(
    rows=arrays(np.float64, (3, 16), elements=st.floats(-1e4, 1e4, allow_nan=False, width=32)),
    method=st.sampled_from(["unit", "standardize"]),
    constant=st.booleans(),
)
def test_the_image_scaler_translation_matches_image_scaler(rows, method, constant):
    if constant:
        rows[1] = rows[1, 0]
    scaler = ImageScaler(method=method).fit(np.abs(rows))
    expected = scaler.transform(rows)
    got = ImageScalerGraph(scaler)(torch.as_tensor(rows, dtype=torch.float32)).numpy()
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, atol=1e-5 * scale, rtol=1e-5)


def test_flip_test_averaging_is_inside_the_graph(youtube_faces, tmp_path, small_regressor):
    """On real crops: a 68-point model trained briefly on YouTube faces, with flip_test."""
    X, y = youtube_faces.data, youtube_faces.target
    model = small_regressor(
        flip_test=True, max_epochs=2, module__widths=(8, 16, 24, 32), module__depths=(1, 1, 1, 1)
    )
    model.fit(X[:256], y[:256])
    onnx_model = export_onnx(model, tmp_path / "youtube.onnx")
    held_out = X[-200:]
    expected = model.predict(held_out)
    assert _max_error(onnx_model.predict(held_out), expected) < 1e-3
    # The graph does average with the mirror: without it, predictions differ.
    plain = copy.deepcopy(model)
    plain.flip_test = False
    assert _max_error(plain.predict(held_out), expected) > 0.01
    assert onnx_model.n_outputs_ == 136 and onnx_model.image_shape_ == (96, 96)
    # flip_test="shape" (the plain pass's position, the average's shape) is in the graph too.
    shaped = copy.deepcopy(model)
    shaped.flip_test = "shape"
    onnx_shaped = export_onnx(shaped, tmp_path / "youtube_shape.onnx")
    expected_shaped = shaped.predict(held_out)
    assert _max_error(onnx_shaped.predict(held_out), expected_shaped) < 1e-3
    assert _max_error(expected_shaped, expected) > 0.01
    metadata = onnx.load(tmp_path / "youtube_shape.onnx").metadata_props
    assert {prop.key: prop.value for prop in metadata}["skfkd_flip_test"] == "shape"


# --------------------------------------------------------------------------- bad input


def test_images_of_another_size_are_refused(exported):
    onnx_model, _ = exported
    X = make_faces(3, image_size=48, random_state=0).data
    with pytest.raises(ValueError, match=r"2304 pixels per image but the ONNX model takes 32x32 images"):
        onnx_model.predict(X)
    with pytest.raises(ValueError, match=r"holds \(48, 48\) images but the ONNX model takes \(32, 32\)"):
        onnx_model.predict(X.reshape(3, 48, 48))
    with pytest.raises(ValueError, match="NaN"):
        onnx_model.predict(np.full((1, 1024), np.nan))
    with pytest.raises(ValueError, match="0 sample"):
        onnx_model.predict(np.zeros((0, 1024)))
    with pytest.raises(ValueError, match="Expected 2D array"):
        onnx_model.predict(np.zeros(1024))
    with pytest.raises(ValueError, match=r"holds \(1, 32, 32\) images but the ONNX model takes \(32, 32\)"):
        onnx_model.predict(np.zeros((1, 1, 32, 32)))  # channels first
    with pytest.raises(ValueError, match=r"X must be \(n_samples, height \* width\)"):
        onnx_model.predict(np.zeros((1, 1, 1, 32, 32)))
    # Lists are converted as sklearn converts them.
    assert onnx_model.predict(np.zeros((2, 1024)).tolist()).shape == (2, 30)


def test_keypoints_of_another_count_are_refused(exported, faces):
    onnx_model, _ = exported
    with pytest.raises(ValueError, match=r"predicts 15 keypoints \(30 columns\)"):
        onnx_model.score(faces.data, np.zeros((len(faces.data), 136)))


def test_unfitted_models_cannot_be_exported(tmp_path, faces, small_regressor):
    from skfkd.faces import FaceLandmarker

    path = tmp_path / "model.onnx"
    with pytest.raises(NotFittedError, match="FacialKeypointRegressor is not fitted"):
        export_onnx(small_regressor(), path)
    with pytest.raises(NotFittedError, match="the Pipeline step 'imagescaler' is not fitted"):
        export_onnx(make_pipeline(ImageScaler(), small_regressor()), path)
    with pytest.raises(NotFittedError, match="the FaceLandmarker is not fitted"):
        export_onnx(FaceLandmarker(small_regressor()), path)
    assert not path.exists()


def test_models_without_a_translation_are_refused_by_name(fitted, faces, tmp_path):
    equalised = make_pipeline(HistogramEqualizer(), ImageScaler(), fitted)
    with pytest.raises(
        ValueError, match=r"step 'histogramequalizer' \(HistogramEqualizer\) cannot be exported"
    ):
        export_onnx(equalised, tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="got a Ridge"):
        export_onnx(Ridge().fit(faces.data, faces.target), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="last step 'ridge' is a Ridge"):
        export_onnx(make_pipeline(ImageScaler(), Ridge()), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="input_dtype must be one of"):
        export_onnx(fitted, tmp_path / "x.onnx", input_dtype="float16")
    no_pairs = copy.deepcopy(fitted)
    no_pairs.flip_test, no_pairs.layout_ = True, None
    with pytest.raises(ValueError, match="flip_test=True needs a layout with left/right flip pairs"):
        export_onnx(no_pairs, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_an_export_that_drifts_from_predict_is_refused(exported, fitted, faces):
    onnx_model, _ = exported
    _check_parity(fitted, onnx_model, faces.data[:4])  # the real export agrees
    drifted = copy.deepcopy(fitted)
    drifted.standardize = "dataset"  # as if the graph had missed a change to the standardisation
    with pytest.raises(RuntimeError, match="px away from the model's predict"):
        _check_parity(drifted, onnx_model, faces.data[:4])


def test_bad_files_are_reported(exported, tmp_path):
    _, path = exported
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OnnxKeypointRegressor(tmp_path / "missing.onnx").predict(np.zeros((1, 1024)))
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.onnx is empty"):
        OnnxKeypointRegressor(tmp_path / "empty.onnx").predict(np.zeros((1, 1024)))
    (tmp_path / "truncated.onnx").write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="not an ONNX model that ONNX Runtime can load"):
        OnnxKeypointRegressor(tmp_path / "truncated.onnx").predict(np.zeros((1, 1024)))
    # A valid ONNX graph that is not a keypoint model.
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, 8])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    onnx.save(onnx.helper.make_model(graph), tmp_path / "other.onnx")
    with pytest.raises(ValueError, match="is not a keypoint model"):
        OnnxKeypointRegressor(tmp_path / "other.onnx").predict(np.zeros((1, 1024)))
    with pytest.raises(
        ValueError,
        match=r"The .n_threads. parameter of OnnxKeypointRegressor must be an int in the range \[1, inf\) or None",
    ):
        OnnxKeypointRegressor(path, n_threads=0).predict(np.zeros((1, 1024)))


# --------------------------------------------------------------------------- the estimator


def test_the_estimator_clones_pickles_and_cannot_be_fitted(exported, faces, tmp_path):
    onnx_model, path = exported
    expected = onnx_model.predict(faces.data)
    np.testing.assert_array_equal(clone(onnx_model).predict(faces.data), expected)
    # A pickled copy carries the graph: it predicts after the file is gone.
    moved = tmp_path / "moved.onnx"
    moved.write_bytes(path.read_bytes())
    pickled = pickle.dumps(OnnxKeypointRegressor(moved, n_threads=2))
    moved.unlink()
    np.testing.assert_array_equal(pickle.loads(pickled).predict(faces.data), expected)
    with pytest.raises(TypeError, match="cannot be fitted"):
        onnx_model.fit(faces.data, faces.target)
    assert onnx_model.__sklearn_tags__().requires_fit is False
    assert keypoint_r2_score(faces.target, expected) == pytest.approx(
        onnx_model.score(faces.data, faces.target)
    )
