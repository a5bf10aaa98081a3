import re
import subprocess
import sys

from skfkd.cli import main


def test_demo_trains_and_compares_the_models_on_synthetic_faces(capsys):
    assert main(["demo", "--n-samples", "300", "--max-epochs", "2", "--random-state", "1"]) == 0
    out = capsys.readouterr().out
    assert "240 training and 60 test faces" in out
    errors = dict(
        re.findall(r"^(mean shape|PCA \+ ridge|FacialKeypointRegressor)\s+([\d.]+)", out, flags=re.M)
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
    result = subprocess.run([sys.executable, "-m", "skfkd", "demo", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--data {synthetic,youtube,kaggle}" in result.stdout
