"""Shared fixtures: the real data folder, and hypothesis profiles."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _real_data_folder(name):
    """The folder of a real dataset under SKFKD_DATA.

    Skips when SKFKD_DATA is unset (a user without the photos), but fails when it is set
    and the folder is missing: CI sets it, and a silent skip there would hide a failure.
    """
    root = os.environ.get("SKFKD_DATA")
    if not root:
        pytest.skip("set SKFKD_DATA to the folder holding the real data (../shared/data) to run this test")
    folder = Path(root) / name
    if not folder.is_dir():
        pytest.fail(f"SKFKD_DATA={root} is set but has no {name}/ folder")
    return folder


@pytest.fixture(scope="session")
def youtube_path():
    return _real_data_folder("youtube_faces_68")


@pytest.fixture(scope="session")
def lfpw_path():
    return _real_data_folder("lfpw68_train")


@pytest.fixture(scope="session")
def helen_path():
    return _real_data_folder("helen68_train")


@pytest.fixture(scope="session")
def afw_path():
    return _real_data_folder("afw68")


@pytest.fixture(scope="session")
def youtube_faces(youtube_path):
    from skfkd.datasets import load_youtube_faces

    return load_youtube_faces(youtube_path)


@pytest.fixture(scope="session")
def youtube_landmarker(youtube_faces):
    """A FaceLandmarker on every sixth YouTube photo, with PCA + ridge to keep it quick."""
    from skfkd.baselines import make_pca_ridge
    from skfkd.faces import FaceLandmarker

    train = slice(0, 3462, 6)
    landmarker = FaceLandmarker(make_pca_ridge(random_state=0), n_calibration=80, random_state=0)
    return landmarker.fit(list(youtube_faces.images[train]), youtube_faces.keypoints[train])
