"""Datasets: real photos with landmarks, the landmark file formats, the Kaggle CSV format,
and synthetic faces.

Every loader returns a :class:`sklearn.utils.Bunch` and accepts ``return_X_y=True``.
Nothing is ever downloaded; see :func:`get_data_home` for where files are looked for.
"""

from skfkd.datasets._base import get_data_home
from skfkd.datasets._kaggle import dump_kaggle_facial_keypoints, load_kaggle_facial_keypoints
from skfkd.datasets._landmark_files import (
    load_dlib_xml,
    load_landmark_folder,
    save_dlib_xml,
    save_landmark_folder,
)
from skfkd.datasets._mirror import mirror_faces
from skfkd.datasets._synthetic import make_faces
from skfkd.datasets._youtube import load_youtube_faces

__all__ = [
    "mirror_faces",
    "dump_kaggle_facial_keypoints",
    "get_data_home",
    "load_dlib_xml",
    "load_kaggle_facial_keypoints",
    "load_landmark_folder",
    "load_youtube_faces",
    "make_faces",
    "save_dlib_xml",
    "save_landmark_folder",
]
