"""CUDA training: runs only where a GPU is present (not in CI, which has none)."""

import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch

from skfkd import FacialKeypointRegressor
from skfkd.datasets import make_faces
from skfkd.metrics import keypoint_rmse

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

_PREDICT_ON_CPU = """
import sys, joblib, numpy as np
model = joblib.load(sys.argv[1])
X = np.load(sys.argv[2])
assert model.device_ == "cpu", model.device_
np.save(sys.argv[3], model.predict(X))
"""


def test_trains_on_cuda_and_predicts_on_a_cpu_only_machine(tmp_path):
    X, y = make_faces(512, image_size=48, random_state=0, return_X_y=True)
    model = FacialKeypointRegressor(max_epochs=8, random_state=0).fit(X, y)
    assert model.device_ == "cuda" and next(model.module_.parameters()).is_cuda
    y_pred = model.predict(X[:32])
    mean_face = np.tile(y.mean(axis=0), (32, 1))
    assert keypoint_rmse(y[:32], y_pred) < keypoint_rmse(y[:32], mean_face)

    joblib.dump(model, tmp_path / "model.joblib")
    np.save(tmp_path / "X.npy", X[:32])
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # what a CPU-only machine sees
    subprocess.run(
        [
            sys.executable,
            "-c",
            _PREDICT_ON_CPU,
            tmp_path / "model.joblib",
            tmp_path / "X.npy",
            tmp_path / "cpu.npy",
        ],
        check=True,
        env=env,
    )
    # CUDA predicts under bfloat16 autocast, the CPU in float32: close, not identical.
    np.testing.assert_allclose(np.load(tmp_path / "cpu.npy"), y_pred, atol=0.5)


def test_explicit_cpu_device_stays_on_cpu():
    X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    model = FacialKeypointRegressor(max_epochs=1, device="cpu", random_state=0).fit(X, y)
    assert model.device_ == "cpu" and not next(model.module_.parameters()).is_cuda
