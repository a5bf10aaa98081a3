"""The YouTube Faces frames with 68 hand-checked landmarks (real photos)."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import numpy as np

from skfkd._framing import DEFAULT_CROP_MARGIN
from skfkd._images import decode_photo
from skfkd._layout import IBUG_68, to_keypoints
from skfkd.datasets._base import (
    _check_crop_options,
    _face_bunch,
    _missing_file_error,
    get_data_home,
)

__all__ = ["load_youtube_faces"]

FOLDER_NAME = "youtube_faces_68"
SUBSETS = ("training", "test")
_IDENTITY_SUFFIX = re.compile(r"_\d+$")

DESCR = """\
YouTube Faces, 68 landmarks
---------------------------
Frames of the YouTube Faces Dataset (Wolf, Hassner and Maoz, CVPR 2011) as prepared for
Udacity's facial keypoints project: RGB photos of one roughly centred face each, with 68
landmarks in the iBUG/dlib layout (``skfkd.IBUG_68``). The training split holds 3462 photos
of 347 people; split by ``identities`` (for example with ``GroupKFold``) to measure
generalisation to new people. Every row is kept, including two groups of byte-identical
duplicate frames and six rows whose landmarks lie slightly outside the photo.

Crops: each face is cut along a square box centred on its landmarks' bounding box, whose
side is that box's longer side grown by ``crop_margin`` on every side, converted to
grayscale and resized to ``crop_size`` pixels (parts outside the photo repeat its edge).
``crop_frames`` holds each crop's frame ``[centre_x, centre_y, side, angle]`` in photo
pixels (angle 0: the crops keep the faces' own tilt), which maps crop keypoints back to the
photo (:func:`skfkd.faces.uncrop_keypoints`).
"""


def load_youtube_faces(
    path=None,
    *,
    subset="training",
    crop_size=96,
    crop_margin=DEFAULT_CROP_MARGIN,
    return_X_y=False,
):
    """Load the YouTube Faces photos with their 68 landmarks.

    Reads ``<subset>_frames_keypoints.csv`` and the photos, either from
    ``<subset>_images.zip`` (entries ``<subset>/<name>``) or from an extracted folder
    ``<subset>/``. Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like, default=None
        Folder holding the files. When None, ``get_data_home() / "youtube_faces_68"``.
    subset : {"training", "test"}, default="training"
        Which split to read.
    crop_size : int or None, default=96
        Side of the square grayscale face crops in ``data``. None skips cropping: the
        Bunch then has no ``data``, ``target`` or ``crop_frames``.
    crop_margin : float, default=0.1
        Margin around the landmarks' bounding box, as a fraction of its longer side, on
        every side of the crop.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        - ``images``: object array of the full RGB photos, each ``(h, w, 3)`` uint8;
        - ``keypoints``: ``(n, 68, 2)`` landmarks in photo pixels;
        - ``filenames``, ``identities``: the photo names and the person in each photo;
        - ``sources``: ``"youtube_faces_68/<subset>"`` on every row, which tells the
          sources apart once datasets are concatenated;
        - ``data``: ``(n, crop_size**2)`` uint8 grayscale face crops;
        - ``target``: ``(n, 136)`` landmarks in crop pixels;
        - ``crop_frames``: ``(n, 4)`` ``[centre_x, centre_y, side, angle]`` of each crop;
        - ``target_names``, ``layout`` (:data:`skfkd.IBUG_68`), ``DESCR``.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        When the CSV, the photos or one listed photo is missing.
    ValueError
        When a CSV row or a photo cannot be read; the message names the file and row.

    Examples
    --------
    >>> from skfkd.datasets import load_youtube_faces
    >>> faces = load_youtube_faces()  # doctest: +SKIP
    >>> faces.data.shape, faces.target.shape  # doctest: +SKIP
    ((3462, 9216), (3462, 136))
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}; got {subset!r}")
    _check_crop_options(crop_size, crop_margin, return_X_y)
    folder = Path(path) if path is not None else get_data_home() / FOLDER_NAME
    csv_path = folder / f"{subset}_frames_keypoints.csv"
    if not csv_path.is_file():
        raise _missing_file_error(
            csv_path, "YouTube Faces landmarks", f"put {csv_path.name} and {subset}_images.zip in {folder}"
        )
    filenames, targets = _read_landmarks_csv(csv_path)
    images = _read_photos(folder, subset, filenames)
    bunch = _face_bunch(
        images,
        to_keypoints(targets),
        layout=IBUG_68,
        descr=DESCR,
        crop_size=crop_size,
        crop_margin=crop_margin,
        filenames=np.asarray(filenames),
        identities=np.asarray([_IDENTITY_SUFFIX.sub("", Path(name).stem) for name in filenames]),
        sources=np.full(len(filenames), f"{FOLDER_NAME}/{subset}"),
    )
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


def _read_landmarks_csv(csv_path):
    """Names and ``(n, 136)`` landmarks from the CSV, checking every row."""
    n_columns = 2 * IBUG_68.n_keypoints
    filenames, rows = [], []
    with open(csv_path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or len(header) != n_columns + 1:
            found = 0 if header is None else len(header) - 1
            raise ValueError(
                f"{csv_path}: the header must name the image column and {n_columns} coordinate columns "
                f"({IBUG_68.n_keypoints} keypoints of {IBUG_68.name}); found {found} coordinate columns"
            )
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue  # a trailing blank line holds no face
            if len(row) != n_columns + 1:
                raise ValueError(
                    f"{csv_path}, line {line_number}: expected a name and {n_columns} coordinates "
                    f"({IBUG_68.n_keypoints} keypoints), found {len(row) - 1} coordinates"
                )
            try:
                values = [float(cell) for cell in row[1:]]
            except ValueError:
                bad = next(cell for cell in row[1:] if not _is_float(cell))
                raise ValueError(
                    f"{csv_path}, line {line_number} ({row[0]}): {bad!r} is not a number"
                ) from None
            if not np.isfinite(values).all():
                raise ValueError(
                    f"{csv_path}, line {line_number} ({row[0]}): a coordinate is missing or infinite"
                )
            filenames.append(row[0])
            rows.append(values)
    if not rows:
        raise ValueError(f"{csv_path} lists no photos")
    return filenames, np.asarray(rows, dtype=float)


def _is_float(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_photos(folder, subset, filenames):
    """Decode every listed photo as RGB uint8, from the zip or the extracted folder."""
    zip_path = folder / f"{subset}_images.zip"
    images = np.empty(len(filenames), dtype=object)
    if zip_path.is_file():
        with zipfile.ZipFile(zip_path) as archive:
            members = set(archive.namelist())
            for i, name in enumerate(filenames):
                member = f"{subset}/{name}"
                if member not in members:
                    raise FileNotFoundError(
                        f"{zip_path} has no {member}, which {subset}_frames_keypoints.csv lists"
                    )
                images[i] = decode_photo(archive.read(member), f"{zip_path}:{member}")
        return images
    image_folder = folder / subset
    if not image_folder.is_dir():
        raise _missing_file_error(
            zip_path, "YouTube Faces photos", f"put {zip_path.name} (or its {subset}/ folder) in {folder}"
        )
    for i, name in enumerate(filenames):
        photo = image_folder / name
        if not photo.is_file():
            raise FileNotFoundError(f"{photo} is missing, though {subset}_frames_keypoints.csv lists it")
        images[i] = decode_photo(photo.read_bytes(), str(photo))
    return images
