"""Where datasets live on disk, and the checks every loader shares."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from sklearn.utils import Bunch

from skfkd._crop import boxes_from_keypoints, crop_faces_from_boxes, keypoints_to_crop
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
    if crop_size is not None and (not isinstance(crop_size, (int, np.integer)) or crop_size < 8):
        raise ValueError(f"crop_size must be an int >= 8 or None; got {crop_size!r}")
    if not np.isfinite(crop_margin) or crop_margin < 0:
        raise ValueError(f"crop_margin must be a finite number >= 0; got {crop_margin!r}")
    if return_X_y and crop_size is None:
        raise ValueError("return_X_y=True needs crops: pass a crop_size")


def _decode_image(payload, where) -> np.ndarray:
    """Decode image bytes as an RGB uint8 array; a clear error names ``where`` otherwise."""
    try:
        with Image.open(io.BytesIO(payload)) as image:
            return np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError as error:
        raise ValueError(f"cannot read the image {where}: {error}") from None
    except (UnidentifiedImageError, OSError) as error:
        # PIL reports a truncated JPEG as an OSError from convert(), not from open().
        raise ValueError(f"cannot read the image {where}: {error}") from None


def _read_image_file(path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the image {path} is missing")
    return _decode_image(path.read_bytes(), str(path))


def _face_bunch(images, keypoints, *, layout, descr, crop_size, crop_margin, crop_boxes=None, **fields):
    """The Bunch every photo loader returns: photos and keypoints, plus crops when asked.

    ``crop_boxes`` defaults to the keypoints' framing (:func:`boxes_from_keypoints`), the
    one framing that training and inference share.
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
        boxes = boxes_from_keypoints(keypoints, crop_margin) if crop_boxes is None else crop_boxes
        crops = crop_faces_from_boxes(images, boxes, crop_size)
        bunch.data = crops.reshape(len(crops), -1)
        bunch.target = to_targets(keypoints_to_crop(keypoints, boxes, crop_size))
        bunch.crop_boxes = boxes
    return bunch
