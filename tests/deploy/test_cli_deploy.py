"""`skfkd export`, and .skops and .onnx models in `skfkd evaluate` and `skfkd predict`."""

import re
from fractions import Fraction

import joblib
import numpy as np
from PIL import Image
from skimage.data import astronaut

from skfkd import IBUG_68
from skfkd.baselines import MeanKeypointRegressor
from skfkd.cli import main
from skfkd.datasets import make_faces, save_landmark_folder
from skfkd.deploy import OnnxKeypointRegressor, load_model, save_model
from skfkd.faces import FaceLandmarker


def _errors(out):
    """The RMSE and NME columns of `skfkd evaluate`'s crop row."""
    return re.search(r"crops framed on the landmarks\s+\d+\s+([\d.]+)\s+([\d.]+)%", out).groups()


def test_train_to_skops_export_to_onnx_and_evaluate_both(tmp_path, capsys):
    data = ["--data", "synthetic", "--n-samples", "60", "--random-state", "0"]
    assert main(["train", *data, "--out", str(tmp_path / "model.skops"), "--max-epochs", "1"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "model.skops"), *data]) == 0
    torch_errors = _errors(capsys.readouterr().out)
    argv = ["export", str(tmp_path / "model.skops"), "--onnx", str(tmp_path / "model.onnx")]
    assert main(argv) == 0
    assert "model.onnx: images (n, 9216) float32 -> keypoints (n, 30) in pixels" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "model.onnx"), *data]) == 0
    assert _errors(capsys.readouterr().out) == torch_errors
    # A 15-point ONNX model cannot be scored on 68-point faces.
    faces68 = make_faces(3, layout=IBUG_68, random_state=0)
    save_landmark_folder(
        faces68.data.reshape(-1, 96, 96), faces68.target.reshape(-1, 68, 2), tmp_path / "faces68"
    )
    assert main(["evaluate", str(tmp_path / "model.onnx"), "--data", str(tmp_path / "faces68")]) == 2
    assert "predicts 15 keypoints but the data have 68" in capsys.readouterr().err


def test_a_photo_landmarker_exported_to_onnx_predicts_as_before(tmp_path, capsys, small_regressor):
    faces = make_faces(60, random_state=0)
    photos, keypoints = list(faces.data.reshape(-1, 96, 96)), faces.target.reshape(-1, 15, 2)
    landmarker = FaceLandmarker(
        small_regressor(max_epochs=1), crop_size=32, n_calibration=0, random_state=0
    ).fit(photos, keypoints)
    joblib.dump(landmarker, tmp_path / "landmarker.joblib")
    Image.fromarray(astronaut()).save(tmp_path / "astronaut.png")

    onnx_path, skops_path = tmp_path / "lm.onnx", tmp_path / "lm.skops"
    argv = [
        "export",
        str(tmp_path / "landmarker.joblib"),
        "--trust-pickle",
        "--onnx",
        str(onnx_path),
        "--skops",
        str(skops_path),
    ]
    assert main([*argv, "--input-dtype", "uint8"]) == 0
    assert "FaceLandmarker, predicting with ONNX Runtime" in capsys.readouterr().out
    deployed = load_model(skops_path)
    assert (
        isinstance(deployed.regressor_, OnnxKeypointRegressor)
        and deployed.regressor_.input_dtype_ == np.uint8
    )
    boxes = [[[20.0, 20.0, 56.0, 56.0]] for _ in photos[:8]]
    expected = np.concatenate(landmarker.predict(photos[:8], boxes=boxes))
    np.testing.assert_allclose(np.concatenate(deployed.predict(photos[:8], boxes=boxes)), expected, atol=1e-3)
    # The torch landmarker itself round-trips through skops exactly.
    save_model(landmarker, tmp_path / "torch.skops")
    reloaded = load_model(tmp_path / "torch.skops")
    np.testing.assert_array_equal(np.concatenate(reloaded.predict(photos[:8], boxes=boxes)), expected)

    out = tmp_path / "predicted"
    assert main(["predict", str(skops_path), str(tmp_path / "astronaut.png"), "--out", str(out)]) == 0
    capsys.readouterr()
    written = np.loadtxt(out / "astronaut.csv", delimiter=",", skiprows=1, usecols=(8, 9)).reshape(-1, 15, 2)
    (faces_found,) = landmarker.predict([astronaut()])
    assert len(faces_found) and np.abs(written - faces_found).max() <= 2e-3  # the CSV rounds to 3 decimals

    # An .onnx file alone holds the crop regressor: predict says what to do instead.
    assert (
        main(["predict", str(onnx_path), str(tmp_path / "astronaut.png"), "--out", str(tmp_path / "x")]) == 2
    )
    err = capsys.readouterr().err
    assert "holds a OnnxKeypointRegressor, which predicts on face crops, not photos" in err
    assert "predict with the OUT.skops file written beside it" in err


def test_export_and_load_report_bad_input(tmp_path, capsys, exported):
    model = MeanKeypointRegressor().fit(np.zeros((3, 96 * 96)), np.ones((3, 30)))
    model.note_ = Fraction(1, 3)
    save_model(model, tmp_path / "fraction.skops")
    (tmp_path / "empty.skops").write_bytes(b"")
    (tmp_path / "empty.onnx").write_bytes(b"")
    (tmp_path / "model.onnx").write_bytes(exported[1].read_bytes())
    joblib.dump(MeanKeypointRegressor(), tmp_path / "unfitted.joblib")
    data = ["--data", "synthetic", "--n-samples", "20"]
    cases = [
        (
            ["evaluate", str(tmp_path / "fraction.skops"), *data],
            "holds types that are not trusted: fractions.Fraction",
        ),
        (["evaluate", str(tmp_path / "empty.skops"), *data], "empty.skops is empty; expected a model file"),
        (["evaluate", str(tmp_path / "empty.onnx"), *data], "empty.onnx is empty"),
        (
            ["evaluate", str(tmp_path / "model.onnx"), *data],
            "9216 pixels per image but the ONNX model takes 32x32",
        ),
        (["export", str(tmp_path / "model.onnx"), "--skops", str(tmp_path)], "is a folder; give a file name"),
        (["export", str(tmp_path / "model.onnx")], "say what to write"),
        (
            ["export", str(tmp_path / "model.onnx"), "--onnx", str(tmp_path / "b.onnx")],
            "is an ONNX model already",
        ),
        (
            [
                "export",
                str(tmp_path / "unfitted.joblib"),
                "--trust-pickle",
                "--onnx",
                str(tmp_path / "c.onnx"),
            ],
            "got a MeanKeypointRegressor",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err  # one line, no traceback
    # --trust loads what the user vouches for.
    assert main(["evaluate", str(tmp_path / "fraction.skops"), *data, "--trust", "fractions.Fraction"]) == 0
    # --skops of an ONNX model: the graph travels inside the safe file.
    assert main(["export", str(tmp_path / "model.onnx"), "--skops", str(tmp_path / "onnx.skops")]) == 0
    faces = make_faces(5, image_size=32, random_state=1).data
    np.testing.assert_array_equal(
        load_model(tmp_path / "onnx.skops").predict(faces),
        OnnxKeypointRegressor(tmp_path / "model.onnx").predict(faces),
    )
