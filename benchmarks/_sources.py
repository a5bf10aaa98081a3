"""The shared photo sources and their fixed held-out parts, one definition for every benchmark.

YouTube Faces is split by identity (frames of one person are near-duplicates), the 300-W
sources by photo; AFW's faces of one photo stay together. 20% is held out, seed 0: the
split of benchmarks/accuracy.py since the first benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from skfkd.datasets import load_dlib_xml, load_landmark_folder, load_youtube_faces

SOURCES = ("youtube", "lfpw", "helen", "afw")
TITLES = {
    "youtube": "YouTube Faces (held-out identities)",
    "lfpw": "LFPW (held-out photos)",
    "helen": "HELEN (held-out photos)",
    "afw": "AFW (held-out photos)",
}
IN_THE_WILD = ("lfpw", "helen", "afw")


@dataclass
class Part:
    """Faces of one source, one row per face: photos (repeated for several faces of one
    photo), keypoints in photo pixels, the photo each face comes from, and axis-aligned
    96x96 crops framed on the landmarks (the datasets' crops) with their keypoints."""

    photos: list
    keypoints: np.ndarray
    photo_ids: np.ndarray
    X: np.ndarray
    y: np.ndarray

    def take(self, rows):
        return Part(
            [self.photos[i] for i in rows],
            self.keypoints[rows],
            self.photo_ids[rows],
            self.X[rows],
            self.y[rows],
        )

    def __len__(self):
        return len(self.photos)


def load_source(data, name):
    """``(faces, groups)``: a source's faces and the groups its split keeps together."""
    if name == "youtube":
        faces = load_youtube_faces(data / "youtube_faces_68")
        ids, groups = faces.filenames, faces.identities
    elif name in ("lfpw", "helen"):
        faces = load_landmark_folder(data / f"{name}68_train")
        ids = groups = faces.filenames
    elif name == "afw":
        faces = load_dlib_xml(data / "afw68" / "afw68.xml")
        ids = groups = faces.filenames
    else:
        raise ValueError(f"unknown source {name!r}; expected one of {SOURCES}")
    part = Part(list(faces.images), faces.keypoints, np.asarray(ids), faces.data, faces.target)
    return part, np.asarray(groups)


def split_source(data, name, quick=False):
    """``(training part, held-out part)`` of a source, by the fixed seed."""
    part, groups = load_source(data, name)
    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train, test = next(split.split(part.X, groups=groups))
    if quick:
        train, test = train[::6], test[::4]
    return part.take(train), part.take(test)
