import json
import re
import signal
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage.data import astronaut

from skfkd import IBUG_68
from skfkd.cli import main
from skfkd.datasets import load_dlib_xml, load_landmark_folder, make_faces, save_landmark_folder
from skfkd.deploy import load_model, save_model


def test_demo_trains_and_compares_the_models_on_synthetic_faces(capsys):
    assert main(["demo", "--n-samples", "300", "--max-epochs", "2", "--random-state", "1", "--no-photo"]) == 0
    out = capsys.readouterr().out
    assert "240 training and 60 test faces" in out
    errors = dict(
        re.findall(
            r"^(mean shape|PCA \+ ridge|FacialKeypointRegressor)(?: \(short run: 2 epochs\))?\s+([\d.]+)",
            out,
            flags=re.M,
        )
    )
    assert set(errors) == {"mean shape", "PCA + ridge", "FacialKeypointRegressor"}
    # Looking at the pixels must beat predicting the average face.
    assert float(errors["PCA + ridge"]) < 0.9 * float(errors["mean shape"])


def test_demo_reports_missing_data_as_an_error(tmp_path, capsys):
    assert main(["demo", "--data", "youtube", "--path", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("skfkd: error: YouTube Faces landmarks not found")
        and "training_frames_keypoints.csv" in err
    )


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "skfkd", "predict", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--format {csv,json,pts,xml}" in result.stdout


def test_bad_arguments_exit_with_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", "synthetic"])  # no --out
    assert exit_.value.code == 2
    assert main(["train", "--data", "/no/such/place", "--out", "m.skops"]) == 2
    assert "neither one of synthetic" in capsys.readouterr().err
    assert main(["train", "--data", "synthetic", "--out", "m.joblib"]) == 2
    assert (
        "skfkd writes skops files, which load without running code; name it *.skops"
        in capsys.readouterr().err
    )


def test_train_and_evaluate_on_synthetic_crops(tmp_path, capsys):
    model = tmp_path / "model.skops"
    argv = ["--data", "synthetic", "--n-samples", "200", "--random-state", "0"]
    assert main(["train", *argv, "--out", str(model), "--max-epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "160 training and 40 held-out faces" in out and "crops framed on the landmarks" in out
    assert main(["evaluate", str(model), *argv]) == 0
    assert re.search(r"crops framed on the landmarks\s+200\s+[\d.]+\s+[\d.]+%", capsys.readouterr().out)
    # A 15-point model cannot be scored on 68-point faces.
    photos, keypoints = _canvas_photos(3)
    save_landmark_folder(photos, keypoints, tmp_path / "faces68")
    assert main(["evaluate", str(model), "--data", str(tmp_path / "faces68")]) == 2
    assert "predicts 15 keypoints but the data have 68" in capsys.readouterr().err


def _canvas_photos(n, seed=0):
    """Synthetic faces pasted on larger noisy backgrounds, so a photo has room around the face."""
    faces = make_faces(n, layout=IBUG_68, random_state=seed)
    rng = np.random.default_rng(seed)
    photos, keypoints = [], []
    for crop, target in zip(faces.data.reshape(-1, 96, 96), faces.target.reshape(-1, 68, 2)):
        canvas = rng.integers(0, 256, (180, 200), dtype=np.uint8)
        top, left = rng.integers(0, 80), rng.integers(0, 100)
        canvas[top : top + 96, left : left + 96] = crop
        photos.append(canvas)
        keypoints.append(target + [left, top])
    return photos, np.array(keypoints)


def test_train_from_a_pts_folder_end_to_end(tmp_path, capsys):
    photos, keypoints = _canvas_photos(60)
    save_landmark_folder(photos, keypoints, tmp_path / "faces")
    model = tmp_path / "model.skops"
    argv = ["train", "--data", str(tmp_path / "faces"), "--out", str(model), "--max-epochs", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "48 training and 12 held-out faces from pts (faces)" in out
    assert re.search(r"crops framed on the landmarks \(photo px\)\s+12\s", out)
    landmarker = load_model(model)
    assert landmarker.n_keypoints_ == 68 and landmarker.detector == "yunet"
    # Photos where no face is found exit with their own status, after a clear message.
    Image.fromarray(np.full((120, 120), 128, np.uint8)).save(tmp_path / "blank.png")
    assert main(["predict", str(model), str(tmp_path / "blank.png"), "--out", str(tmp_path / "out")]) == 3
    assert "no face found in" in capsys.readouterr().err


@pytest.fixture(scope="module")
def photo_model(youtube_landmarker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    save_model(youtube_landmarker, folder / "landmarker.skops")
    Image.fromarray(astronaut()).save(folder / "astronaut.png")
    return folder / "landmarker.skops", folder / "astronaut.png"


@pytest.mark.parametrize("output", ["csv", "json", "pts", "xml"])
def test_predict_writes_the_annotated_photo_and_keypoints(photo_model, tmp_path, capsys, output):
    model, photo = photo_model
    out = tmp_path / "out"
    argv = ["predict", str(model), str(photo), "--out", str(out), "--format", output]
    assert main(argv + (["--max-faces", "1"] if output == "csv" else [])) == 0
    n_faces = int(re.search(r"astronaut.png: (\d+) face", capsys.readouterr().out).group(1))
    assert n_faces == 1 if output == "csv" else n_faces >= 1
    drawn = np.asarray(Image.open(out / "astronaut_keypoints.png").convert("RGB"))
    assert drawn.shape == astronaut().shape and not np.array_equal(drawn, astronaut())
    if output == "csv":
        rows = (out / "astronaut.csv").read_text().splitlines()
        header = "face,score,box_left,box_top,box_width,box_height,keypoint,name,x,y"
        assert rows[0] == header and len(rows) == 1 + 68 * n_faces
        first = rows[1].split(",")
        assert float(first[1]) > 0.9 and first[6:8] == ["0", "jaw_0"]
    elif output == "json":
        record = json.loads((out / "astronaut.json").read_text())
        assert len(record["faces"]) == n_faces and len(record["faces"][0]["keypoints"]) == 68
        assert len(record["faces"][0]["box"]) == 4 and record["faces"][0]["score"] > 0.9
    elif output == "pts":
        assert len(load_landmark_folder(out / "pts", crop_size=None).keypoints) == n_faces
    else:
        assert len(load_dlib_xml(out / "predictions.xml", crop_size=None).keypoints) == n_faces


def test_predict_and_evaluate_report_bad_input(photo_model, tmp_path, capsys, youtube_faces):
    model, photo = photo_model
    out = str(tmp_path / "out")
    cases = [
        (["predict", str(model), str(tmp_path / "missing.png"), "--out", out], "missing.png is missing"),
        (["predict", str(model), str(tmp_path), "--out", out], "is a folder; expected a photo"),
        (
            ["predict", str(tmp_path / "folder.joblib"), str(photo), "--out", out],
            "is a folder; expected a model",
        ),
        (
            ["predict", str(tmp_path / "missing.skops"), str(photo), "--out", out],
            "the model file " + str(tmp_path / "missing.skops") + " does not exist",
        ),
        (
            ["predict", str(tmp_path / "notes.bin"), str(photo), "--out", out],
            "is neither a skops nor an ONNX model file",
        ),
        (["predict", str(model), "--out", out], "is a model; give the photos to predict on after it"),
    ]
    (tmp_path / "folder.joblib").mkdir()
    (tmp_path / "notes.bin").write_bytes(b"these are not the bytes of a model")
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    cases.append(
        (["predict", str(model), str(tmp_path / "broken.jpg"), "--out", out], "cannot read the image")
    )
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err  # one line, no traceback
    save_landmark_folder(youtube_faces.images[:6], youtube_faces.keypoints[:6], tmp_path / "six")
    assert main(["evaluate", str(model), "--data", str(tmp_path / "six")]) == 0
    table = capsys.readouterr().out
    assert re.search(r"crops framed on the landmarks \(photo px\)\s+6\s", table)
    assert re.search(r"faces found by the detector \(photo px\)\s+\d/6\s", table)


@pytest.mark.parametrize("keep_partial", [False, True])
def test_ctrl_c_in_train_exits_130_and_writes_a_model_only_when_asked(tmp_path, keep_partial):
    out = tmp_path / "model.skops"
    argv = ["train", "--data", "synthetic", "--n-samples", "400", "--max-epochs", "500", "--out", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-m", "skfkd", *argv, *(["--keep-partial"] if keep_partial else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Interrupt once the training loop runs: the log's header comes with the first
        # epoch. (A fixed wait after the split was printed could land in the network's
        # set-up on a slow machine, where skorch does not catch the interrupt.)
        for line in process.stdout:
            if line.split()[:1] == ["epoch"]:
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    if keep_partial:
        assert out.exists() and "wrote the partly trained model" in err
        assert load_model(out).predict(make_faces(2, random_state=0).data).shape == (2, 30)
    else:
        assert not out.exists() and "interrupted; no model written" in err
    assert not list(tmp_path.glob(".*partial"))


def _png_header_only(path, width, height):
    """A PNG whose header declares ``width`` x ``height`` pixels, with no pixel data."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def test_a_decompression_bomb_photo_and_running_out_of_memory_exit_with_2(tmp_path, capsys, monkeypatch):
    _png_header_only(tmp_path / "bomb.png", 40_000, 40_000)  # 1.6 billion pixels declared in 57 bytes
    assert main(["predict", str(tmp_path / "bomb.png"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "cannot read the image" in err and "decompression bomb" in err and err.count("\n") == 1

    def out_of_memory(args):
        raise MemoryError

    monkeypatch.setattr(sys.modules["skfkd.cli._commands"], "predict", out_of_memory)
    parser_default = main(["predict", str(tmp_path / "bomb.png")])
    assert parser_default == 2 and "out of memory" in capsys.readouterr().err


def test_predict_chooses_the_detector_and_its_threshold(tmp_path, capsys):
    Image.fromarray(astronaut()).save(tmp_path / "astronaut.png")
    out = str(tmp_path / "out")
    assert main(["predict", str(tmp_path / "astronaut.png"), "--out", out, "--detector", "cascade"]) == 0
    rows = (tmp_path / "out" / "astronaut.csv").read_text().splitlines()[1:]
    assert {row.split(",")[1] for row in rows} == {"1.0000"}  # the cascade gives no score
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "astronaut.png"), "--out", out, "--score-threshold", "0.99"]) == 3
    assert "no face found in" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "astronaut.png"), "--out", out, "--score-threshold", "2"]) == 2


def test_version(capsys):
    import skfkd

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"skfkd {skfkd.__version__}"


def test_every_model_parameter_can_be_set_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "model.skops"
    argv = ["train", "--data", "synthetic", "--n-samples", "120", "--out", str(out), "--max-epochs", "1"]
    extra = [
        "--lr",
        "0.005",
        "--batch-size",
        "32",
        "--latent-dim",
        "16",
        "--module__hidden_dim",
        "24",
        "--augmentation",
        "None",
    ]
    assert main([*argv, *extra]) == 0
    model = load_model(out)
    assert (model.lr, model.batch_size, model.augmentation, model.max_epochs) == (0.005, 32, None, 1)
    assert model.latent_dim == 16 and model.module_.head[0].out_features == 24
    capsys.readouterr()
    assert main([*argv, "--learning-rate", "0.1"]) == 2
    assert (
        "--learning_rate: not a parameter of FacialKeypointRegressor or FaceLandmarker"
        in capsys.readouterr().err
    )
    assert main([*argv, "--lr", "-1"]) == 2  # checked against the regressor's constraints
    assert "'lr' parameter of FacialKeypointRegressor" in capsys.readouterr().err


def _youtube_folder(youtube_faces, folder, rows):
    save_landmark_folder(youtube_faces.images[rows], youtube_faces.keypoints[rows], folder)
    return folder


def test_train_fine_tunes_the_pretrained_landmarker_and_pretrained_is_a_model_name(
    youtube_faces, tmp_path, capsys
):
    from skfkd import load_pretrained

    folder = _youtube_folder(youtube_faces, tmp_path / "faces", slice(0, 3462, 100))
    out = tmp_path / "tuned.skops"
    argv = ["train", "--data", str(folder), "--init", "pretrained", "--out", str(out), "--max-epochs", "1"]
    assert main(argv) == 0
    assert "Fine-tuning pretrained (max_epochs=1, lr=0.0002)" in capsys.readouterr().out
    tuned, pretrained = load_model(out), load_pretrained()
    np.testing.assert_array_equal(tuned.box_calibration_, pretrained.box_calibration_)
    weights = [
        np.concatenate([p.detach().reshape(-1).numpy() for p in model.regressor_.module_.parameters()])
        for model in (tuned, pretrained)
    ]
    assert weights[0].shape == weights[1].shape and not np.array_equal(*weights)
    assert len(tuned.regressor_.history_) == len(pretrained.regressor_.history_) + 1
    # "pretrained" names the shipped model wherever a model goes.
    assert main(["evaluate", "pretrained", "--data", str(folder)]) == 0
    assert re.search(r"faces found by the detector \(photo px\)\s+35/35", capsys.readouterr().out)


def test_logs_are_plain_when_the_output_is_not_a_terminal(tmp_path):
    argv = [
        "train",
        "--data",
        "synthetic",
        "--n-samples",
        "100",
        "--out",
        str(tmp_path / "m.skops"),
        "--max-epochs",
        "2",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "skfkd", *argv], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "train_loss" in result.stdout  # the epoch log is there
    logs = result.stdout + result.stderr
    assert "\x1b[" not in logs and "\r" not in logs  # no colours, no progress bar redraws
