"""Read and write the CSV files of Kaggle's "Facial Keypoints Detection" competition.

``training.csv`` holds 30 keypoint columns (``left_eye_center_x`` ... ``mouth_center_bottom_lip_y``,
the :data:`~skfkd.KAGGLE_15` target names) and an ``Image`` column of space-separated
pixel values; ``test.csv`` holds ``ImageId`` and ``Image``. Kaggle also ships each one
zipped (``training.zip``, ``test.zip``). skfkd downloads nothing: put the files in
``get_data_home() / "kaggle_facial_keypoints"`` or pass their path.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import math
import os
import re
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from skfkd._layout import KAGGLE_15, to_keypoints
from skfkd.datasets._base import _missing_file_error, get_data_home

__all__ = ["dump_kaggle_facial_keypoints", "load_kaggle_facial_keypoints"]

_FOLDER_NAME = "kaggle_facial_keypoints"
_SUBSETS = ("training", "test")
_IMAGE = "Image"
_IMAGE_ID = "ImageId"
# Side of the images in the competition's files; only used when a file has no data row.
_KAGGLE_SIDE = 96
_DIGITS_AND_SPACE = b"0123456789 "
_INT_RE = re.compile(r"[+-]?[0-9]+")
# Each pixel value as the bytes "v " padded with NUL to 4 bytes, for a fast writer.
_PIXEL_BYTES = np.zeros((256, 4), dtype=np.uint8)
for _v in range(256):
    _b = f"{_v} ".encode("ascii")
    _PIXEL_BYTES[_v, : len(_b)] = np.frombuffer(_b, dtype=np.uint8)
del _v, _b

_DESCR = """\
.. _kaggle_facial_keypoints_dataset:

Kaggle Facial Keypoints Detection
---------------------------------

The data of Kaggle's "Facial Keypoints Detection" competition (2013): grayscale face
images of 96 x 96 pixels with up to 15 keypoints (eye centres and corners, eyebrow ends,
nose tip, mouth corners and lip centres; skfkd.KAGGLE_15). The subject's left eye appears
on the image's right-hand side.

``training.csv`` has 7049 rows; one column per keypoint coordinate in pixels (``_x`` is
the column, ``_y`` the row) and ``Image``, the 96 * 96 pixel values in row-major order
separated by spaces. Only about 30% of the rows (2140) annotate all 15 keypoints; about
70% annotate just 4 (the eye centres, the nose tip and the bottom lip centre). Empty
cells become NaN in ``target``: nothing is dropped or imputed, so choose how to treat the
partially annotated rows (a masked loss, dropping them, ...) yourself. ``test.csv`` has
1783 rows of ``ImageId`` and ``Image`` and no keypoints.

This file: {summary}
"""


def load_kaggle_facial_keypoints(path=None, *, subset="training", return_X_y=False):
    """Load the Kaggle "Facial Keypoints Detection" CSV (training or test set).

    Reads the file with the standard :mod:`csv` module and parses each ``Image`` cell with
    numpy; the real 7049-row ``training.csv`` loads in a few seconds. Nothing is dropped
    or imputed: empty keypoint cells become NaN, and any malformed cell raises an error
    that names the file and the row.

    Parameters
    ----------
    path : str or path-like, default=None
        A ``.csv`` file, a ``.zip`` holding exactly one ``.csv`` (as Kaggle distributes
        them), or a folder holding ``{subset}.csv`` or ``{subset}.zip`` (the ``.csv`` is
        preferred when both are there). When None, the folder
        ``get_data_home() / "kaggle_facial_keypoints"``.
    subset : {"training", "test"}, default="training"
        Which file to read: the file name looked for in a folder, and the columns
        expected (the 30 keypoint columns and ``Image``, or ``ImageId`` and ``Image``).
        Columns may come in any order.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch; ``target`` is None for
        the test subset.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_samples, side * side), dtype uint8
            The images, one flattened row-major image per row.
        images : ndarray of shape (n_samples, side, side), dtype uint8
            The same pixels (a view of ``data``). ``side`` is inferred from the pixel
            count, which must be a perfect square and the same in every row (96 in
            Kaggle's files). A file with a header and no data row gives zero samples
            with ``side = 96``.
        target : ndarray of shape (n_samples, 30), dtype float64
            Training subset only. Keypoint coordinates in pixels in the
            ``target_names`` order; NaN where a cell is empty (not annotated).
        keypoints : ndarray of shape (n_samples, 15, 2)
            Training subset only. ``target`` as (x, y) points (a view of ``target``).
        image_ids : ndarray of shape (n_samples,), dtype int64
            Test subset only. The ``ImageId`` column.
        target_names : list of str
            The 30 keypoint column names, ``KAGGLE_15.target_names``.
        layout : KeypointLayout
            :data:`~skfkd.KAGGLE_15`.
        filename : str
            The file read (the ``.zip`` when the CSV came from one).
        DESCR : str
            A description of the dataset and a summary of this file.

    (data, target) : tuple if ``return_X_y`` is True
        ``target`` is None for the test subset.

    Raises
    ------
    FileNotFoundError
        If the file, or ``{subset}.csv`` / ``{subset}.zip`` in the folder, does not exist.
    ValueError
        If ``subset`` is unknown; if the file is empty (no header), is not UTF-8 text or
        not valid CSV; if columns are missing, unknown or duplicated; if a ``.zip``
        holds no ``.csv`` or several; or if a row has the wrong number of cells, a
        keypoint cell that is not a finite number, an ``ImageId`` that is not an
        integer, an ``Image`` whose pixel count is not a perfect square or differs from
        the first row's, or a pixel value that is not an integer in 0..255. Errors
        about a row name the file, the 1-based data row and the file line.

    See Also
    --------
    dump_kaggle_facial_keypoints : Write arrays in this format.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skfkd.datasets import dump_kaggle_facial_keypoints, load_kaggle_facial_keypoints
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(3, 96 * 96), dtype=np.uint8)
    >>> y = rng.uniform(0, 96, size=(3, 30))
    >>> y[1, 4:20] = np.nan  # row 1 leaves 8 keypoints unannotated
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     dump_kaggle_facial_keypoints(X, y, os.path.join(folder, "training.zip"))
    ...     faces = load_kaggle_facial_keypoints(folder)
    >>> faces.images.shape, faces.target.shape, faces.keypoints.shape
    ((3, 96, 96), (3, 30), (3, 15, 2))
    >>> bool(np.array_equal(faces.data, X)), bool(np.array_equal(faces.target, y, equal_nan=True))
    (True, True)
    >>> faces.target_names[:2]
    ['left_eye_center_x', 'left_eye_center_y']
    """
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {_SUBSETS}; got {subset!r}")
    filename = _resolve_path(path, subset)
    with _open_csv(filename) as (text, source):
        parsed = _parse(text, source, subset)
    data, ids, target = parsed
    images = data.reshape(data.shape[0], *_square_shape(data.shape[1]))
    if return_X_y:
        return data, target
    bunch = Bunch(
        data=data,
        images=images,
        target_names=list(KAGGLE_15.target_names),
        layout=KAGGLE_15,
        filename=str(filename),
    )
    if subset == "training":
        bunch.target = target
        bunch.keypoints = to_keypoints(target)
    else:
        bunch.image_ids = ids
    bunch.DESCR = _DESCR.format(summary=_summary(subset, images, target))
    return bunch


def dump_kaggle_facial_keypoints(X, y, f, *, image_ids=None):
    """Write images (and keypoints) in the Kaggle "Facial Keypoints Detection" CSV format.

    With ``y``, writes the training format: the 30 :data:`~skfkd.KAGGLE_15` keypoint
    columns then ``Image``; NaN becomes an empty cell and every float is written with
    ``repr``, so :func:`load_kaggle_facial_keypoints` reads back identical values.
    With ``y=None``, writes the test format: ``ImageId,Image``. Lines end with ``\\n``
    and no cell is quoted, as pandas writes these files.

    Parameters
    ----------
    X : array-like of shape (n_samples, side * side) or (n_samples, side, side)
        Square grayscale images. Values must be integers in 0..255 (uint8, any integer
        dtype, or floats with integral values).
    y : array-like of shape (n_samples, 30) or None
        Keypoint targets in pixels, in the ``KAGGLE_15.target_names`` order; NaN marks
        a keypoint that is not annotated. Infinite values are refused. None writes the
        test format.
    f : str or path-like or writable text file
        Where to write. A path ending in ``.zip`` (any case) writes a zip archive that
        holds ``training.csv`` (or ``test.csv`` when ``y`` is None), like Kaggle's
        downloads. A file object must be opened in text mode, ideally with
        ``newline=""``.
    image_ids : array-like of int of shape (n_samples,), default=None
        The ``ImageId`` column of the test format; ``1..n_samples`` when None. Only
        allowed when ``y`` is None.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or 3-D, its images are not square, or its values are not
        integers in 0..255; if ``y`` does not have 30 columns, holds infinite values or
        has another number of rows than ``X``; if ``image_ids`` is given with ``y``, is
        not integral or has the wrong length.

    See Also
    --------
    load_kaggle_facial_keypoints : Read files in this format.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from skfkd.datasets import dump_kaggle_facial_keypoints
    >>> X = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    >>> buffer = io.StringIO()
    >>> dump_kaggle_facial_keypoints(X, None, buffer, image_ids=[7, 9])
    >>> print(buffer.getvalue(), end="")
    ImageId,Image
    7,0 1 2 3
    9,4 5 6 7
    >>> y = np.full((2, 30), np.nan)
    >>> y[0, :2] = [66.0335639098, 39.0022736842]
    >>> buffer = io.StringIO()
    >>> dump_kaggle_facial_keypoints(X, y, buffer)
    >>> print(buffer.getvalue().splitlines()[1])
    66.0335639098,39.0022736842,,,,,,,,,,,,,,,,,,,,,,,,,,,,,0 1 2 3
    """
    pixels = _check_images(X)
    n_samples = pixels.shape[0]
    if y is not None:
        if image_ids is not None:
            raise ValueError(
                "image_ids belong to the test format; pass y=None to write it, or drop image_ids"
            )
        target = KAGGLE_15.check_targets(y)
        if target.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {target.shape[0]} rows")
        if np.isinf(target).any():
            row = int(np.nonzero(np.isinf(target).any(axis=1))[0][0])
            raise ValueError(f"y holds infinite values (first in row {row}); use NaN for a missing keypoint")
        header = [*KAGGLE_15.target_names, _IMAGE]
        first_cells = ([_float_cell(v) for v in row] for row in target.tolist())
        member = "training.csv"
    else:
        ids = _check_image_ids(image_ids, n_samples)
        header = [_IMAGE_ID, _IMAGE]
        first_cells = ([str(i)] for i in ids.tolist())
        member = "test.csv"

    def write(text):
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        for cells, image in zip(first_cells, pixels, strict=True):
            writer.writerow([*cells, _image_cell(image)])

    if hasattr(f, "write"):
        write(f)
        return
    f = os.fsdecode(f)
    if f.lower().endswith(".zip"):
        # Level 1: several times faster than zlib's default on image data, nearly as small.
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            with (
                archive.open(member, "w") as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
            ):
                write(text)
    else:
        with open(f, "w", encoding="utf-8", newline="") as text:
            write(text)


# ----------------------------------------------------------------------------- reading


def _resolve_path(path, subset):
    """The file to read: ``path`` itself, or ``{subset}.csv`` / ``.zip`` in a folder."""
    folder = get_data_home() / _FOLDER_NAME if path is None else Path(path).expanduser()
    what = f"Kaggle facial keypoints {subset} file"
    if folder.is_dir():
        for name in (f"{subset}.csv", f"{subset}.zip"):
            if (folder / name).is_file():
                return folder / name
        missing = folder / f"{subset}.csv"
    elif folder.exists() or folder.suffix.lower() in (".csv", ".zip"):
        if folder.is_file():
            return folder
        missing = folder
    else:  # neither a file nor an existing folder: report it as the folder it would be
        missing = folder / f"{subset}.csv"
    hint = (
        f"put {subset}.csv or {subset}.zip from Kaggle's 'Facial Keypoints Detection' competition "
        f"in {missing.parent}, or pass the file's path"
    )
    raise _missing_file_error(missing, what, hint)


@contextlib.contextmanager
def _open_csv(filename):
    """Yield ``(text file, name for messages)`` for a ``.csv`` or a ``.zip`` holding one."""
    with _large_csv_fields():
        if filename.suffix.lower() != ".zip":
            with open(filename, encoding="utf-8-sig", newline="") as text:
                yield text, str(filename)
            return
        try:
            archive = zipfile.ZipFile(filename)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{filename} is not a valid zip file ({exc})") from exc
        with archive:
            names = [
                info.filename
                for info in archive.infolist()
                if not info.is_dir()
                and info.filename.lower().endswith(".csv")
                # macOS adds __MACOSX/._name.csv resource forks to the zips it makes.
                and not info.filename.rsplit("/", 1)[-1].startswith("._")
            ]
            if len(names) != 1:
                listing = ", ".join(archive.namelist()) or "nothing"
                problem = "no .csv file" if not names else f"{len(names)} .csv files"
                raise ValueError(f"{filename} holds {problem}, expected exactly one; it holds: {listing}")
            with (
                archive.open(names[0]) as raw,
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
            ):
                yield text, f"{filename} (member {names[0]})"


@contextlib.contextmanager
def _large_csv_fields():
    """Let the csv module read ``Image`` cells longer than its default 128 KiB limit."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _parse(text, source, subset):
    """Parse the rows; return ``(data, image_ids or None, target or None)``."""
    reader = csv.reader(text, strict=True)
    row_number = 0
    try:
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{source} is empty: expected a header line naming the columns")
        columns = _check_columns(header, source, subset)
        n_cells = len(header)
        image_col = columns[_IMAGE]
        target_cols = [columns[name] for name in KAGGLE_15.target_names] if subset == "training" else None
        id_col = columns.get(_IMAGE_ID)
        images, targets, ids = [], [], []
        n_pixels = None

        def where():  # read when an error is raised, so it names the current row
            return f"{source}, data row {row_number} (line {reader.line_num})"

        for row in reader:
            if not row:  # a blank line: no cell, no data
                continue
            row_number += 1
            if len(row) != n_cells:
                raise ValueError(f"{where()}: {len(row)} cells, expected {n_cells} (one per header column)")
            pixels = _parse_pixels(row[image_col], where)
            if n_pixels is None:
                n_pixels = pixels.size
                if n_pixels == 0 or math.isqrt(n_pixels) ** 2 != n_pixels:
                    raise ValueError(
                        f"{where()}: Image has {n_pixels} pixel values, which is not the pixel count "
                        "of a square image (96 * 96 = 9216 in Kaggle's files)"
                    )
            elif pixels.size != n_pixels:
                raise ValueError(
                    f"{where()}: Image has {pixels.size} pixel values, expected {n_pixels} like the first row"
                )
            images.append(pixels.astype(np.uint8))
            if target_cols is not None:
                targets.append([_parse_coordinate(row[i], i, header, where) for i in target_cols])
            else:
                ids.append(_parse_image_id(row[id_col], where))
    except csv.Error as exc:
        raise ValueError(f"{source}, line {reader.line_num}: not valid CSV ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source} is not UTF-8 text: is it really a CSV file? ({exc})") from exc
    if images:
        data = np.stack(images)
    else:
        data = np.empty((0, _KAGGLE_SIDE * _KAGGLE_SIDE), dtype=np.uint8)
    if subset == "training":
        target = np.array(targets, dtype=np.float64).reshape(len(targets), len(KAGGLE_15.target_names))
        return data, None, target
    return data, np.array(ids, dtype=np.int64), None


def _check_columns(header, source, subset):
    """Map column names to indices, raising on missing, unknown or duplicated columns."""
    # Linear in the header's width: a crafted header may have a million columns.
    names = [name.strip() for name in header]
    expected = [*KAGGLE_15.target_names, _IMAGE] if subset == "training" else [_IMAGE_ID, _IMAGE]
    counts = collections.Counter(names)
    duplicated = [name for name, count in counts.items() if count > 1]
    missing = [name for name in expected if name not in counts]
    unknown = [name for name in counts if name not in expected]
    if not (duplicated or missing or unknown):
        return {name: i for i, name in enumerate(names)}
    problems = []
    if missing:
        problems.append(f"missing columns {_first_few(missing)}")
    if unknown:
        problems.append(f"unknown columns {_first_few(unknown)}")
    if duplicated:
        problems.append(f"duplicated columns {_first_few(duplicated)}")
    hint = ""
    if subset == "test" and KAGGLE_15.target_names[0] in names:
        hint = " This looks like the training file: pass subset='training'."
    elif subset == "training" and _IMAGE_ID in names:
        hint = " This looks like the test file: pass subset='test'."
    raise ValueError(
        f"{source}: the header of the Kaggle {subset} file must name the columns {expected} "
        f"(in any order), but it has {'; '.join(problems)}.{hint}"
    )


def _first_few(names, n=5):
    """The first ``n`` names (each cut to 40 characters) and how many there are in all:
    an error message stays short whatever the header holds."""
    shown = ", ".join(repr(name[:40] + ("..." if len(name) > 40 else "")) for name in names[:n])
    return f"[{shown}{', ...' if len(names) > n else ''}] ({len(names)} in all)"


def _parse_pixels(cell, where):
    """The integers of an ``Image`` cell as an int64 array, checked to lie in 0..255."""
    try:
        raw = cell.encode("ascii")
    except UnicodeEncodeError:
        raw = None
    # Fast path: only digits and spaces, so numpy's C parser reads exactly the tokens
    # (and nothing can be negative or fractional). Anything else goes the slow way.
    if raw is not None and not raw.translate(None, _DIGITS_AND_SPACE):
        if not raw.strip(b" "):
            return np.empty(0, dtype=np.int64)
        values = np.fromstring(cell, dtype=np.int64, sep=" ")
        if values.size == 0 or values.max() <= 255:
            return values
    values = []
    for position, token in enumerate(cell.split(), start=1):
        if not _INT_RE.fullmatch(token):
            raise ValueError(
                f"{where()}: Image pixel value {position} is {token!r}, not an integer in 0..255"
            )
        value = int(token)
        if not 0 <= value <= 255:
            raise ValueError(f"{where()}: Image pixel value {position} is {value}, outside 0..255")
        values.append(value)
    return np.array(values, dtype=np.int64)


def _parse_coordinate(cell, index, header, where):
    """A keypoint cell as a float; NaN when empty."""
    text = cell.strip()
    if not text:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or math.isinf(value):
        raise ValueError(
            f"{where()}: column {header[index].strip()!r} holds {cell!r}, which is not a finite number "
            "(leave the cell empty for a keypoint that is not annotated)"
        )
    return value


def _parse_image_id(cell, where):
    text = cell.strip()
    if not _INT_RE.fullmatch(text):
        raise ValueError(f"{where()}: ImageId is {cell!r}, not an integer")
    return int(text)


def _square_shape(n_pixels):
    side = math.isqrt(n_pixels)
    return side, side


def _summary(subset, images, target):
    n, side = images.shape[0], images.shape[1]
    text = f"{n} images of {side} x {side} pixels"
    if subset == "test":
        return text + " (test set: no keypoints)."
    annotated = (~np.isnan(target)).sum(axis=1)
    full = int((annotated == target.shape[1]).sum())
    none = int((annotated == 0).sum())
    return (
        f"{text}; {full} annotate all {KAGGLE_15.n_keypoints} keypoints, "
        f"{n - full - none} some of them, {none} none."
    )


# ----------------------------------------------------------------------------- writing


def _check_images(X):
    """``X`` as a ``(n_samples, side * side)`` uint8 array, refusing what would not round-trip."""
    X = np.asarray(X)
    if X.ndim == 3:
        if X.shape[1] != X.shape[2]:
            raise ValueError(f"the Kaggle format stores square images; X has images of shape {X.shape[1:]}")
        X = X.reshape(X.shape[0], -1)
    elif X.ndim != 2:
        raise ValueError(
            f"X must have shape (n_samples, side * side) or (n_samples, side, side); got {X.shape}"
        )
    width = X.shape[1]
    if width == 0 or math.isqrt(width) ** 2 != width:
        raise ValueError(
            f"the Kaggle format stores square images, so X needs side * side columns; got {width} columns"
        )
    if X.dtype.kind not in "uif":
        raise ValueError(f"X must hold pixel values (integers in 0..255); got dtype {X.dtype}")
    if X.size:
        if X.dtype.kind == "f":
            bad = ~np.isfinite(X)
            bad[~bad] = X[~bad] != np.round(X[~bad])
            if bad.any():
                row = int(np.nonzero(bad.any(axis=1))[0][0])
                raise ValueError(f"X must hold integer pixel values in 0..255; row {row} holds non-integers")
        if X.min() < 0 or X.max() > 255:
            row = int(np.nonzero(((X < 0) | (X > 255)).any(axis=1))[0][0])
            raise ValueError(f"X must hold pixel values in 0..255; row {row} holds values outside that range")
    return X.astype(np.uint8)


def _check_image_ids(image_ids, n_samples):
    if image_ids is None:
        return np.arange(1, n_samples + 1)
    ids = np.asarray(image_ids)
    if ids.shape != (n_samples,):
        raise ValueError(f"image_ids must have shape ({n_samples},), one per image; got {ids.shape}")
    if ids.dtype.kind not in "ui":
        if ids.dtype.kind != "f" or not np.all(np.isfinite(ids) & (ids == np.round(ids))):
            raise ValueError("image_ids must be integers")
    return ids.astype(np.int64)


def _float_cell(value):
    """An exact, round-tripping text for a coordinate; empty for NaN."""
    return "" if math.isnan(value) else repr(float(value))


def _image_cell(image):
    """The space-separated pixel values of one flattened uint8 image."""
    return _PIXEL_BYTES[image].tobytes().translate(None, b"\0")[:-1].decode("ascii")
