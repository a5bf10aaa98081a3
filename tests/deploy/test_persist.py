import importlib
import inspect
import sys
import zipfile
from fractions import Fraction

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import make_pipeline

from skfkd.baselines import MeanKeypointRegressor
from skfkd.deploy import OnnxKeypointRegressor, load_model, save_model
from skfkd.deploy._persist import TRUSTED_TYPES
from skfkd.neural import FacialKeypointRegressor
from skfkd.preprocessing import ImageScaler


def test_a_fitted_regressor_round_trips_exactly(fitted, faces, tmp_path):
    path = tmp_path / "model.skops"
    save_model(fitted, path)
    with zipfile.ZipFile(path) as archive:  # deflated: a shipped model stays a few MB
        assert {entry.compress_type for entry in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    loaded = load_model(path)
    assert type(loaded) is FacialKeypointRegressor
    np.testing.assert_array_equal(loaded.predict(faces.data), fitted.predict(faces.data))
    _assert_same_params(loaded, fitted)
    assert len(loaded.history_) == len(fitted.history_)
    assert loaded.history_[-1, "train_loss"] == fitted.history_[-1, "train_loss"]
    assert loaded.layout_ == fitted.layout_ and loaded.image_shape_ == fitted.image_shape_
    # It trains on from the loaded weights (with a fresh optimizer).
    before = loaded.module_.head[-1].weight.detach().clone()
    loaded.set_params(max_epochs=1).partial_fit(faces.data, faces.target)
    assert len(loaded.history_) == len(fitted.history_) + 1
    assert not np.array_equal(before.numpy(), loaded.module_.head[-1].weight.detach().numpy())


def _assert_same_params(a, b):
    params_a, params_b = (
        {name: value for name, value in model.get_params(deep=False).items() if not name.startswith("_")}
        for model in (a, b)
    )
    assert params_a.keys() == params_b.keys()
    for name, value in params_a.items():
        other = params_b[name]
        assert type(value) is type(other), name
        if isinstance(value, type) or not hasattr(value, "__dict__"):
            assert value == other, name
        else:  # objects such as the ValidSplit
            assert vars(value) == vars(other), name


def test_pipelines_unfitted_models_and_onnx_models_round_trip(
    fitted, faces, exported, tmp_path, small_regressor
):
    pipeline = make_pipeline(ImageScaler(), small_regressor(max_epochs=1)).fit(faces.data, faces.target)
    save_model(pipeline, tmp_path / "pipeline.skops")
    loaded = load_model(tmp_path / "pipeline.skops")
    np.testing.assert_array_equal(loaded.predict(faces.data), pipeline.predict(faces.data))
    # Saving converts a copy: the pipeline saved still holds its own regressor.
    assert isinstance(pipeline[-1], FacialKeypointRegressor) and pipeline[-1].initialized_

    save_model(small_regressor(latent_dim=7), tmp_path / "unfitted.skops")
    unfitted = load_model(tmp_path / "unfitted.skops")
    assert unfitted.latent_dim == 7 and not hasattr(unfitted, "n_outputs_")

    onnx_model, _ = exported
    save_model(onnx_model, tmp_path / "onnx.skops")
    np.testing.assert_array_equal(
        load_model(tmp_path / "onnx.skops").predict(faces.data), onnx_model.predict(faces.data)
    )
    assert isinstance(load_model(tmp_path / "onnx.skops"), OnnxKeypointRegressor)


PAYLOAD = '''
import os

class Payload:
    """Writes a file when skops builds it: the test's evidence of code run at load time."""

    def __init__(self):
        self.value = 1

    def __setstate__(self, state):
        open(os.environ["SKFKD_PAYLOAD_MARKER"], "w").close()
        self.__dict__.update(state)
'''


def test_untrusted_types_are_refused_by_name_before_anything_runs(tmp_path, monkeypatch):
    (tmp_path / "payload_module.py").write_text(PAYLOAD)
    monkeypatch.syspath_prepend(str(tmp_path))
    marker = tmp_path / "ran"
    monkeypatch.setenv("SKFKD_PAYLOAD_MARKER", str(marker))
    payload_module = importlib.import_module("payload_module")
    model = MeanKeypointRegressor().fit(np.zeros((3, 4)), np.ones((3, 2)))
    model.note_ = payload_module.Payload()
    sio.dump(model, tmp_path / "tampered.skops")
    del sys.modules["payload_module"]

    with pytest.raises(
        ValueError, match=r"holds types that are not trusted: payload_module\.Payload\. Nothing"
    ):
        load_model(tmp_path / "tampered.skops")
    assert not marker.exists() and "payload_module" not in sys.modules  # not even imported
    # Trusting the type by name loads it, and then its code does run: the test can see it.
    loaded = load_model(tmp_path / "tampered.skops", trusted=["payload_module.Payload"])
    assert marker.exists() and type(loaded.note_).__name__ == "Payload"


def test_a_regressor_dumped_by_skops_itself_is_not_trusted(fitted, tmp_path):
    # skorch's __setstate__ unpickles bytes, so the regressor as an object is never trusted;
    # save_model stores its weights as arrays instead.
    sio.dump(fitted, tmp_path / "raw.skops")
    with pytest.raises(
        ValueError, match=r"not trusted: .*skfkd\.neural\._regressor\.FacialKeypointRegressor,"
    ):
        load_model(tmp_path / "raw.skops")
    model = MeanKeypointRegressor().fit(np.zeros((3, 4)), np.ones((3, 2)))
    model.note_ = Fraction(1, 3)
    save_model(model, tmp_path / "fraction.skops")
    with pytest.raises(ValueError, match="not trusted: fractions.Fraction"):
        load_model(tmp_path / "fraction.skops")
    assert load_model(tmp_path / "fraction.skops", trusted=["fractions.Fraction"]).note_ == Fraction(1, 3)
    with pytest.raises(TypeError, match="sequence of type names"):
        load_model(tmp_path / "fraction.skops", trusted="fractions.Fraction")


def test_empty_truncated_and_missing_files_are_reported(fitted, tmp_path):
    save_model(fitted, tmp_path / "model.skops")
    data = (tmp_path / "model.skops").read_bytes()
    (tmp_path / "empty.skops").write_bytes(b"")
    (tmp_path / "truncated.skops").write_bytes(data[: len(data) // 2])
    (tmp_path / "pickle.skops").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ValueError, match=r"empty.skops is not a skops model file \(empty"):
        load_model(tmp_path / "empty.skops")
    with pytest.raises(ValueError, match=r"truncated.skops is not a skops model file \(\d+ bytes, truncated"):
        load_model(tmp_path / "truncated.skops")
    with pytest.raises(ValueError, match="pickle.skops is not a skops model file"):
        load_model(tmp_path / "pickle.skops")
    joblib.dump(fitted, tmp_path / "model.joblib")  # a pickle is refused unread, whatever its name
    with pytest.raises(ValueError, match="model.joblib is not a skops model file"):
        load_model(tmp_path / "model.joblib")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.skops")
    with pytest.raises(ValueError, match="is a folder"):
        load_model(tmp_path)


def test_the_trusted_types_name_real_classes():
    # A renamed class would leave a stale name here, and its files would stop loading.
    for name in TRUSTED_TYPES:
        module, _, attribute = name.rpartition(".")
        found = getattr(importlib.import_module(module), attribute)
        assert isinstance(found, type) or (name.startswith("skfkd.") and inspect.isfunction(found)), name


def test_a_file_from_another_skfkd_version_says_both_versions(fitted, faces, tmp_path, monkeypatch):
    import skfkd
    from skfkd.deploy import _persist

    monkeypatch.setattr(skfkd, "__version__", "0.0.1")
    save_model(fitted, tmp_path / "old.skops")
    monkeypatch.setattr(_persist, "FILE_FORMAT", _persist.FILE_FORMAT + 1)
    save_model(fitted, tmp_path / "old_format.skops")
    monkeypatch.undo()
    # Same file format: it loads, with a warning that names both versions.
    with pytest.warns(UserWarning, match=rf"written by skfkd 0\.0\.1; this is skfkd {skfkd.__version__}"):
        loaded = load_model(tmp_path / "old.skops")
    np.testing.assert_array_equal(loaded.predict(faces.data), fitted.predict(faces.data))
    # Another file format: refused, naming both versions and both formats.
    with pytest.raises(ValueError, match=r"written by skfkd 0\.0\.1 \(model file format 2\); this is skfkd"):
        load_model(tmp_path / "old_format.skops")


def test_a_file_of_this_version_loads_without_a_warning(fitted, tmp_path, recwarn):
    save_model(fitted, tmp_path / "model.skops")
    load_model(tmp_path / "model.skops")
    assert not [w for w in recwarn if "written by skfkd" in str(w.message)]


def test_an_rgb_regressor_round_trips_and_exports_with_the_same_predictions(small_regressor, faces, tmp_path):
    from skfkd.deploy import export_onnx

    rgb = np.stack([faces.images, faces.images // 2, 255 - faces.images], axis=-1)
    model = small_regressor(flip_test="shape").fit(rgb, faces.target)
    save_model(model, tmp_path / "rgb.skops")
    loaded = load_model(tmp_path / "rgb.skops")
    assert loaded.n_channels_ == 3
    np.testing.assert_array_equal(loaded.predict(rgb), model.predict(rgb))
    onnx_model = export_onnx(model, tmp_path / "rgb.onnx", input_dtype="uint8")
    assert onnx_model.n_channels_ == 3 and onnx_model.n_features_in_ == 32 * 32 * 3
    assert onnx_model.image_shape_ == (32, 32)
    np.testing.assert_allclose(onnx_model.predict(rgb), model.predict(rgb), atol=1e-3)
    np.testing.assert_allclose(onnx_model.predict(rgb.reshape(len(rgb), -1)), model.predict(rgb), atol=1e-3)
    with pytest.raises(ValueError, match=r"X holds \(32, 32\) images but the ONNX model takes \(32, 32, 3\)"):
        onnx_model.predict(faces.images)


def test_a_file_from_before_a_parameter_existed_loads_with_its_default(tmp_path):
    from skfkd.deploy._persist import _check_estimators
    from skfkd.faces import FaceLandmarker

    landmarker = FaceLandmarker(MeanKeypointRegressor(), crop_size=64)
    del landmarker.colour  # as a file written before FaceLandmarker had it
    _check_estimators(landmarker)
    assert landmarker.colour is False and landmarker.crop_size == 64
