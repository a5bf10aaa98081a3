"""Where datasets live on disk, and the checks every loader shares."""

from __future__ import annotations

import os
from pathlib import Path

from sklearn.utils import Bunch

from skfkd._framing import check_framing, crop_photos, frames_from_keypoints, keypoints_to_crop
from skfkd._layout import to_targets

__all__ = ["get_data_home"]

DATA_HOME_ENV = "SKFKD_DATA"


def get_data_home(data_home=None) -> Path:
    """Return the folder that holds skfkd's datasets.

    skfkd never downloads anything: loaders read files that you place in this folder
    (or pass a path to them directly).

    Parameters
    ----------
    data_home : str or path-like, default=None
        An explicit folder. When None, the ``SKFKD_DATA`` environment variable is used,
        and ``~/skfkd_data`` when that is unset.

    Returns
    -------
    data_home : pathlib.Path
        The folder; it is not created and need not exist.

    Examples
    --------
    >>> from skfkd.datasets import get_data_home
    >>> str(get_data_home("/tmp/faces"))
    '/tmp/faces'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or Path.home() / "skfkd_data"
    return Path(data_home).expanduser()


def _missing_file_error(path, what, hint) -> FileNotFoundError:
    """A FileNotFoundError that says which file is missing and where it belongs."""
    return FileNotFoundError(
        f"{what} not found at {path}. skfkd downloads nothing: {hint} "
        f"(the default folder is {DATA_HOME_ENV} or ~/skfkd_data, see skfkd.datasets.get_data_home)."
    )


def _check_crop_options(crop_size, crop_margin, return_X_y):
    if crop_size is not None:
        check_framing(crop_size, crop_margin, "the loader")
    elif return_X_y:
        raise ValueError("return_X_y=True needs crops: pass a crop_size")


def _face_bunch(images, keypoints, *, layout, descr, crop_size, crop_margin, crop_frames=None, **fields):
    """The Bunch every photo loader returns: photos and keypoints, plus crops when asked.

    ``crop_frames`` defaults to the landmark framing (axis-aligned: a dataset's crops
    keep the faces' own tilt), cut by :mod:`skfkd._framing`, as every skfkd crop is.
    """
    bunch = Bunch(
        images=images,
        keypoints=keypoints,
        target_names=layout.target_names,
        layout=layout,
        DESCR=descr,
        **fields,
    )
    if crop_size is not None:
        frames = frames_from_keypoints(keypoints, crop_margin) if crop_frames is None else crop_frames
        crops = crop_photos(list(images), frames, crop_size)
        bunch.data = crops.reshape(len(crops), -1)
        bunch.target = to_targets(keypoints_to_crop(keypoints, frames, crop_size))
        bunch.crop_frames = frames
    return bunch
