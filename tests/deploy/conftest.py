"""Small fitted models shared by the deployment tests (each ONNX export takes ~3 s)."""

import pytest

from skfkd import FacialKeypointRegressor
from skfkd.datasets import make_faces
from skfkd.deploy import export_onnx


def _small_regressor(**params):
    defaults = {
        "module__widths": (8, 16, 24),
        "module__depths": (1, 1, 2),
        "latent_dim": 16,
        "max_epochs": 2,
        "random_state": 0,
    }
    return FacialKeypointRegressor(**{**defaults, **params})


@pytest.fixture(scope="session")
def small_regressor():
    """Make a regressor that trains in a fraction of a second on 32x32 faces."""
    return _small_regressor


@pytest.fixture(scope="session")
def faces():
    return make_faces(96, image_size=32, random_state=0)


@pytest.fixture(scope="session")
def fitted(faces):
    return _small_regressor().fit(faces.data, faces.target)


@pytest.fixture(scope="session")
def exported(fitted, tmp_path_factory):
    """``fitted`` exported with a float32 input, and the file."""
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return export_onnx(fitted, path), path
