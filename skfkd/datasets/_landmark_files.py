"""The landmark files other tools read and write: 300-W ``.pts`` folders and dlib's imglab XML."""

from __future__ import annotations

import decimal
import re
import warnings
import xml.sax
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image

from skfkd._framing import DEFAULT_CROP_MARGIN, frames_from_boxes, landmark_boxes
from skfkd._images import as_image_stack, read_photo
from skfkd._layout import IBUG_68, KeypointLayout, to_keypoints
from skfkd.datasets._base import _check_crop_options, _face_bunch

__all__ = ["load_dlib_xml", "load_landmark_folder", "save_dlib_xml", "save_landmark_folder"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_HEADER_LINE = re.compile(r"^\s*([A-Za-z_]\w*)\s*:\s*(\S+)\s*$")

# Decimal arithmetic for the 1-based shift: ``float(text) - 1`` and ``repr(x + 1)`` each
# round, so a float written and read back would drift by an ulp. Shifting the exact
# decimal strings keeps write-then-read exact. The precision covers even subnormal floats
# (about 340 significant digits once 1 is added); pixel values use a handful.
_EXACT = decimal.Context(prec=400)

FOLDER_DESCR = """\
Landmarks from a folder of photos with 300-W ``.pts`` files
------------------------------------------------------------
Each photo (JPEG or PNG) has a ``.pts`` file of the same name beside it, in the iBUG /
300-W format of 300-W, HELEN, LFPW, AFW, iBUG and Menpo. The files' 1-based (MATLAB)
coordinates are shifted to skfkd's 0-based pixel centres. ``sources`` names the folder of
each photo, relative to the loaded folder's parent.

Crops: each face is cut along a square box centred on its landmarks' bounding box, whose
side is that box's longer side grown by ``crop_margin`` on every side, converted to
grayscale and resized to ``crop_size`` pixels: the same framing as every skfkd loader.
"""

XML_DESCR = """\
Landmarks from a dlib imglab XML file
-------------------------------------
One row per face box of the XML file (several faces per photo are kept; boxes marked
``ignore='1'`` are skipped). ``face_boxes`` holds each file box as ``[left, top, width,
height]``; parts missing from a box are NaN keypoints.

Crops: framed on the landmarks exactly as every skfkd loader frames them
(``crop_from='keypoints'``), or on the file's boxes (``crop_from='boxes'``).
"""


# --------------------------------------------------------------------------- .pts files


def _read_pts(path, layout) -> np.ndarray:
    """The ``(k, 2)`` 0-based keypoints of one ``.pts`` file, every line checked."""
    lines = Path(path).read_text(errors="replace").splitlines()
    header, number = {}, 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == "{":
            break
        if not stripped:
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            raise ValueError(f"{path}, line {number}: expected a header line such as 'n_points: 68' or '{{'")
        header[match.group(1).lower()] = (match.group(2), number)
    else:
        raise ValueError(f"{path}: no '{{' opens the list of points")
    opening = number
    if "n_points" not in header:
        raise ValueError(f"{path}: the header before line {opening} has no 'n_points:' line")
    text, where = header["n_points"]
    if not text.isdigit():
        raise ValueError(f"{path}, line {where}: n_points must be a whole number; got {text!r}")
    n_points = int(text)
    if "version" in header and header["version"][0] != "1":
        version, where = header["version"]
        raise ValueError(f"{path}, line {where}: only version 1 of the .pts format exists; got {version!r}")
    if n_points != layout.n_keypoints:
        raise ValueError(
            f"{path}, line {header['n_points'][1]}: n_points is {n_points} but layout "
            f"{layout.name!r} has {layout.n_keypoints} keypoints"
        )
    points, closed = [], False
    for number, line in enumerate(lines[opening:], start=opening + 1):
        stripped = line.strip()
        if closed:
            if stripped:
                raise ValueError(f"{path}, line {number}: unexpected text after the closing '}}'")
            continue
        if stripped == "}":
            closed = True
        elif stripped:
            points.append(_parse_point(stripped, path, number))
    if not closed:
        raise ValueError(f"{path}: the list of points opened on line {opening} has no closing '}}'")
    if len(points) != n_points:
        raise ValueError(f"{path}: n_points says {n_points} but the file lists {len(points)} points")
    return np.asarray(points, dtype=float)


def _parse_point(text, path, number):
    tokens = text.split()
    if len(tokens) != 2:
        raise ValueError(f"{path}, line {number}: expected 'x y'; got {text!r}")
    try:
        values = [decimal.Decimal(token) for token in tokens]
    except decimal.InvalidOperation:
        raise ValueError(f"{path}, line {number}: {text!r} is not a pair of numbers") from None
    if not all(value.is_finite() for value in values):
        raise ValueError(f"{path}, line {number}: coordinates must be finite; got {text!r}")
    return [float(_EXACT.subtract(value, 1)) for value in values]


def _format_pts(keypoints) -> str:
    lines = ["version: 1", f"n_points:  {len(keypoints)}", "{"]
    for x, y in keypoints:
        lines.append(f"{_one_based(x)} {_one_based(y)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _one_based(value) -> str:
    # repr gives the shortest decimal that reads back as the same float; shifting that
    # decimal exactly lets _parse_point recover the float bit for bit.
    shifted = _EXACT.add(decimal.Decimal(repr(float(value))), 1)
    return f"{shifted:f}"


def load_landmark_folder(
    path,
    *,
    layout=IBUG_68,
    crop_size=96,
    crop_margin=DEFAULT_CROP_MARGIN,
    return_X_y=False,
):
    """Load every photo with a 300-W ``.pts`` file beside it, searching folders recursively.

    This is how 300-W, HELEN, LFPW, AFW, iBUG and Menpo are distributed: ``name.jpg``
    beside ``name.pts`` (``version: 1``, ``n_points: 68``, ``{``, one ``x y`` per line,
    ``}``), with 1-based coordinates. The Bunch matches :func:`load_youtube_faces`, so
    the same model trains on both.

    Parameters
    ----------
    path : str or path-like
        The folder. Photos are JPEG or PNG files (any size); the order is the sorted
        relative path, so it is the same on every machine.
    layout : KeypointLayout, default=IBUG_68
        The landmark scheme; every ``.pts`` file must hold its number of points.
    crop_size : int or None, default=96
        Side of the square grayscale face crops in ``data``. None skips cropping.
    crop_margin : float, default=0.1
        Margin around the landmarks' bounding box, as a fraction of its longer side.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        - ``images``: object array of the RGB photos, each ``(h, w, 3)`` uint8;
        - ``keypoints``: ``(n, k, 2)`` landmarks in 0-based photo pixels (the file's
          values minus 1);
        - ``filenames``: the photos' paths relative to ``path``, with ``/`` separators;
        - ``sources``: the folder each photo came from, starting with ``path``'s name
          (``"lfpw68_train"``, ``"lfpw68_train/indoor"``), for grouped splits and for
          telling sources apart once datasets are concatenated;
        - ``data``, ``target``, ``crop_frames``: the crops as :func:`load_youtube_faces`
          frames them;
        - ``target_names``, ``layout``, ``DESCR``.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a folder, holds no ``.pts`` file, or a ``.pts`` file has no
        photo beside it.
    ValueError
        When a ``.pts`` file or a photo cannot be read; the message names the file and,
        for ``.pts`` files, the line.

    Warns
    -----
    UserWarning
        When photos have no ``.pts`` beside them: they are not loaded, and the warning
        gives their count and the first names.

    See Also
    --------
    save_landmark_folder : Write photos and keypoints in this format.
    load_dlib_xml : The same Bunch from a dlib imglab XML file.

    Examples
    --------
    >>> import tempfile
    >>> from skfkd import IBUG_68
    >>> from skfkd.datasets import load_landmark_folder, make_faces, save_landmark_folder
    >>> faces = make_faces(3, layout=IBUG_68, random_state=0)
    >>> folder = save_landmark_folder(faces.data, faces.target, tempfile.mkdtemp())
    >>> loaded = load_landmark_folder(folder, crop_size=48)
    >>> loaded.filenames.tolist()
    ['image_0000.png', 'image_0001.png', 'image_0002.png']
    >>> loaded.data.shape, loaded.target.shape
    ((3, 2304), (3, 136))
    """
    _check_crop_options(crop_size, crop_margin, return_X_y)
    _check_layout(layout)
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of photos with .pts files")
    pairs, unlabelled = _pair_photos(root)
    if unlabelled:
        shown = ", ".join(unlabelled[:3]) + (", ..." if len(unlabelled) > 3 else "")
        warnings.warn(
            f"{len(unlabelled)} photos in {root} have no .pts file beside them and were not loaded ({shown})",
            UserWarning,
            stacklevel=2,
        )
    images = np.empty(len(pairs), dtype=object)
    keypoints = np.empty((len(pairs), layout.n_keypoints, 2))
    for i, (photo, pts) in enumerate(pairs):
        keypoints[i] = _read_pts(pts, layout)
        images[i] = read_photo(photo)
    relative = [photo.relative_to(root).as_posix() for photo, _ in pairs]
    top = root.resolve().name
    bunch = _face_bunch(
        images,
        keypoints,
        layout=layout,
        descr=FOLDER_DESCR,
        crop_size=crop_size,
        crop_margin=crop_margin,
        filenames=np.asarray(relative),
        sources=np.asarray([str(PurePosixPath(top) / PurePosixPath(name).parent) for name in relative]),
    )
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


def _pair_photos(root):
    """``(photo, pts)`` pairs in sorted order, and the photos without a ``.pts``."""
    photos, annotations = {}, {}
    for file in sorted(root.rglob("*")):
        if not file.is_file():
            continue
        key = file.with_suffix("")
        suffix = file.suffix.lower()
        if suffix == ".pts":
            annotations[key] = file
        elif suffix in IMAGE_SUFFIXES:
            if key in photos:
                raise ValueError(
                    f"{photos[key].name} and {file.name} in {file.parent} share a name, so it is unclear "
                    f"which one {key.name}.pts annotates; rename one"
                )
            photos[key] = file
    if not annotations:
        raise FileNotFoundError(f"{root} holds no .pts file (searched its sub-folders too)")
    orphans = sorted(set(annotations) - set(photos))
    if orphans:
        raise FileNotFoundError(
            f"{annotations[orphans[0]]} has no JPEG or PNG photo of the same name beside it"
            + (f" ({len(orphans) - 1} more .pts files have none either)" if len(orphans) > 1 else "")
        )
    unlabelled = sorted(str(photos[key].relative_to(root)) for key in set(photos) - set(annotations))
    pairs = [(photos[key], annotations[key]) for key in sorted(annotations, key=lambda p: p.as_posix())]
    return pairs, unlabelled


def save_landmark_folder(images, keypoints, path, *, filenames=None, image_shape=None, overwrite=False):
    """Write photos and their keypoints as a 300-W folder: each photo beside its ``.pts``.

    :func:`load_landmark_folder` reads the folder back with the same keypoints, bit for
    bit; labelling tools and other landmark libraries read it too, so skfkd's predictions
    can serve as pre-annotation.

    Parameters
    ----------
    images : sequence of arrays, or array of shape (n, h, w[, c]) or (n, h * w)
        The photos: an object array such as ``Bunch.images``, a stack, or ``X`` rows
        (square, or shaped by ``image_shape``). uint8 values, or floats in [0, 1].
    keypoints : array-like of shape (n, k, 2) or (n, 2 * k)
        0-based pixel coordinates; the files get them plus 1. Every point must be finite:
        the format has no way to say that a point is missing.
    path : str or path-like
        Output folder, created when missing.
    filenames : sequence of str, default=None
        Relative photo names (sub-folders allowed; ``.png`` is lossless, ``.jpg`` is not).
        None names them ``image_0000.png``, ``image_0001.png``, ...
    image_shape : (int, int), default=None
        ``(height, width)`` of ``X`` rows that are not square.
    overwrite : bool, default=False
        Replace existing files instead of raising.

    Returns
    -------
    path : pathlib.Path
        The folder.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skfkd import IBUG_68
    >>> from skfkd.datasets import make_faces, save_landmark_folder
    >>> X, y = make_faces(2, layout=IBUG_68, random_state=0, return_X_y=True)
    >>> folder = save_landmark_folder(X, y, tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.iterdir())
    ['image_0000.png', 'image_0000.pts', 'image_0001.png', 'image_0001.pts']
    >>> print((folder / "image_0000.pts").read_text()[:30])
    version: 1
    n_points:  68
    {
    ...
    """
    images, keypoints, filenames = _check_writer_input(images, keypoints, filenames, image_shape)
    if np.isnan(keypoints).any():
        row = int(np.flatnonzero(np.isnan(keypoints).any(axis=(1, 2)))[0])
        raise ValueError(
            f"keypoints of face {row} ({filenames[row]}) hold NaN; the .pts format cannot mark a point as "
            "missing (save_dlib_xml can)"
        )
    duplicates = sorted({name for name in filenames if filenames.count(name) > 1})
    if duplicates:
        raise ValueError(f"a .pts file annotates one face, but {duplicates[0]!r} is named more than once")
    root = Path(path)
    targets = [(root / name, (root / name).with_suffix(".pts")) for name in filenames]
    _refuse_overwrite([file for pair in targets for file in pair], overwrite)
    for image, points, (photo, pts) in zip(images, keypoints, targets):
        _write_image(image, photo)
        pts.write_text(_format_pts(points))
    return root


# --------------------------------------------------------------------------- dlib XML


class _ImglabHandler(xml.sax.ContentHandler):
    """Collects the images, boxes and parts of an imglab file, with their line numbers."""

    def __init__(self, path, layout):
        super().__init__()
        self.path, self.layout = path, layout
        self.names = {name: i for i, name in enumerate(layout.keypoint_names)}
        self.images, self.faces = [], []
        self.n_ignored = 0
        self._box = None
        self._locator = None

    def setDocumentLocator(self, locator):  # noqa: N802 (the SAX API's name)
        self._locator = locator

    def _where(self):
        line = self._locator.getLineNumber() if self._locator is not None else "?"
        return f"{self.path}, line {line}"

    def _number(self, attributes, name, element):
        if name not in attributes:
            raise ValueError(f"{self._where()}: <{element}> has no {name!r} attribute")
        try:
            value = float(attributes[name])
        except ValueError:
            raise ValueError(
                f"{self._where()}: <{element}> {name}={attributes[name]!r} is not a number"
            ) from None
        if not np.isfinite(value):
            raise ValueError(f"{self._where()}: <{element}> {name}={attributes[name]!r} is not finite")
        return value

    def startElement(self, name, attributes):  # noqa: N802
        if name == "image":
            if "file" not in attributes:
                raise ValueError(f"{self._where()}: <image> has no 'file' attribute")
            self.images.append((attributes["file"], self._where()))
        elif name == "box":
            if not self.images:
                raise ValueError(f"{self._where()}: <box> outside an <image>")
            box = [self._number(attributes, key, "box") for key in ("left", "top", "width", "height")]
            if box[2] <= 0 or box[3] <= 0:
                raise ValueError(f"{self._where()}: <box> needs a positive width and height")
            ignored = attributes.get("ignore", "0").strip() not in ("0", "", "false")
            points = np.full((self.layout.n_keypoints, 2), np.nan)
            self._box = (len(self.images) - 1, box, points, ignored)
        elif name == "part":
            if self._box is None:
                raise ValueError(f"{self._where()}: <part> outside a <box>")
            index = self._part_index(attributes.get("name"))
            points = self._box[2]
            if not np.isnan(points[index]).all():
                raise ValueError(f"{self._where()}: part {attributes['name']!r} appears twice in one box")
            points[index] = [self._number(attributes, "x", "part"), self._number(attributes, "y", "part")]

    def _part_index(self, name):
        if name is None:
            raise ValueError(f"{self._where()}: <part> has no 'name' attribute")
        k = self.layout.n_keypoints
        if name.isdigit() and int(name) < k:
            return int(name)
        if name in self.names:
            return self.names[name]
        raise ValueError(
            f"{self._where()}: part name {name!r} is not a keypoint of layout {self.layout.name!r} "
            f"(expected 0..{k - 1}, zero-padded or not, or a keypoint name)"
        )

    def endElement(self, name):  # noqa: N802
        if name == "box":
            image, box, points, ignored = self._box
            if ignored:
                self.n_ignored += 1
            else:
                self.faces.append((image, box, points))
            self._box = None


def load_dlib_xml(
    path,
    *,
    layout=IBUG_68,
    crop_size=96,
    crop_margin=DEFAULT_CROP_MARGIN,
    crop_from="keypoints",
    return_X_y=False,
):
    """Load faces and landmarks from a dlib imglab XML file.

    The format that dlib's ``train_shape_predictor`` and ``imglab`` read:
    ``<images><image file=...><box top= left= width= height=><part name="00" x= y=/>``.
    Photo paths are relative to the XML file's folder. Every ``<box>`` is one face (one
    row), so a photo may hold several; boxes marked ``ignore='1'`` are skipped.

    Parameters
    ----------
    path : str or path-like
        The XML file.
    layout : KeypointLayout, default=IBUG_68
        The landmark scheme. Part names are keypoint indices (``"00"`` to ``"67"`` as
        imglab writes them, or ``"0"``) or the layout's keypoint names. A box may miss
        parts: they are NaN, which skfkd's models mask out.
    crop_size : int or None, default=96
        Side of the square grayscale face crops in ``data``. None skips cropping.
    crop_margin : float, default=0.1
        Margin around the framing box, as a fraction of its longer side.
    crop_from : {"keypoints", "boxes"}, default="keypoints"
        ``"keypoints"`` frames crops on the landmarks as every skfkd loader does, so the
        crops mix with theirs; boxes with no part are then skipped, with a warning.
        ``"boxes"`` frames them on the file's boxes (squared, grown by ``crop_margin``),
        and keeps boxes without parts as unlabelled rows (all-NaN targets).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_landmark_folder`, one row per face, plus ``face_boxes``: the
        file's boxes as ``[left, top, width, height]``. ``sources`` holds the XML file's
        name. Photos with several faces share one array in ``images``.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        When the XML file or a photo it names is missing.
    ValueError
        When the XML does not parse, an attribute is missing or not a number, a part
        name is outside the layout, or a photo cannot be read; the message names the file
        and line.

    Warns
    -----
    UserWarning
        Giving the number of boxes skipped (``ignore='1'``, or no part to frame on).

    See Also
    --------
    save_dlib_xml : Write faces and keypoints in this format.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skfkd import IBUG_68
    >>> from skfkd.datasets import load_dlib_xml, make_faces, save_dlib_xml
    >>> X, y = make_faces(2, layout=IBUG_68, random_state=0, return_X_y=True)
    >>> xml_file = save_dlib_xml(X, y, Path(tempfile.mkdtemp()) / "faces.xml")
    >>> faces = load_dlib_xml(xml_file, crop_size=48)
    >>> faces.data.shape, faces.face_boxes.shape
    ((2, 2304), (2, 4))
    """
    _check_crop_options(crop_size, crop_margin, return_X_y)
    _check_layout(layout)
    if crop_from not in ("keypoints", "boxes"):
        raise ValueError(f"crop_from must be 'keypoints' or 'boxes'; got {crop_from!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the dlib XML file {path} is missing")
    handler = _ImglabHandler(path, layout)
    parser = xml.sax.make_parser()
    # The file is data, never a way to make us read other files.
    parser.setFeature(xml.sax.handler.feature_external_ges, False)
    parser.setFeature(xml.sax.handler.feature_external_pes, False)
    parser.setContentHandler(handler)
    try:
        parser.parse(str(path))
    except xml.sax.SAXParseException as error:
        raise ValueError(
            f"{path}, line {error.getLineNumber()}: not valid XML ({error.getMessage()})"
        ) from None
    faces = handler.faces
    skipped = [f"{handler.n_ignored} marked ignore='1'"] if handler.n_ignored else []
    if crop_from == "keypoints":
        unframed = sum(np.isnan(points).all() for _, _, points in faces)
        if unframed:
            skipped.append(f"{unframed} with no part to frame a crop on (crop_from='boxes' keeps them)")
        faces = [face for face in faces if not np.isnan(face[2]).all()]
    if skipped:
        warnings.warn(f"{path}: skipped boxes: {'; '.join(skipped)}", UserWarning, stacklevel=2)
    if not faces:
        raise ValueError(f"{path} holds no face to load")
    decoded = {}
    images = np.empty(len(faces), dtype=object)
    for i, (image_index, _, _) in enumerate(faces):
        name, where = handler.images[image_index]
        if image_index not in decoded:
            photo = path.parent / name
            if not photo.is_file():
                raise FileNotFoundError(f"{where}: the photo {photo} is missing")
            decoded[image_index] = read_photo(photo)
        images[i] = decoded[image_index]
    face_boxes = np.asarray([box for _, box, _ in faces], dtype=float)
    keypoints = np.stack([points for _, _, points in faces])
    bunch = _face_bunch(
        images,
        keypoints,
        layout=layout,
        descr=XML_DESCR,
        crop_size=crop_size,
        crop_margin=crop_margin,
        crop_frames=frames_from_boxes(face_boxes, crop_margin) if crop_from == "boxes" else None,
        filenames=np.asarray([handler.images[image][0] for image, _, _ in faces]),
        sources=np.full(len(faces), path.name),
        face_boxes=face_boxes,
    )
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


def save_dlib_xml(images, keypoints, path, *, filenames=None, boxes=None, image_shape=None, overwrite=False):
    """Write photos, face boxes and keypoints as a dlib imglab XML file.

    dlib's ``train_shape_predictor`` and ``imglab`` read the file, and
    :func:`load_dlib_xml` reads it back. dlib reads whole pixels only, so coordinates are
    rounded to the nearest integer (at most half a pixel away); NaN keypoints are left
    out, which dlib reads as parts not present.

    Parameters
    ----------
    images : sequence of arrays, or array of shape (n, h, w[, c]) or (n, h * w)
        One photo per face (as :func:`save_landmark_folder` takes them). Faces that share
        a file name share one ``<image>`` and must hold the same photo.
    keypoints : array-like of shape (n, k, 2) or (n, 2 * k)
        0-based pixel coordinates, NaN where not annotated. Parts are named ``"00"``,
        ``"01"``, ... as imglab names them.
    path : str or path-like
        The XML file; photos are written beside it under ``filenames``.
    filenames : sequence of str, default=None
        Photo names relative to the XML file's folder; None gives ``image_0000.png``, ...
    boxes : array-like of shape (n, 4), default=None
        Face boxes ``[left, top, width, height]``, such as ``face_boxes`` from
        :func:`load_dlib_xml` or a detector's boxes; None gives the keypoints'
        bounding box, squared. Rounded to whole pixels.
    image_shape : (int, int), default=None
        ``(height, width)`` of ``X`` rows that are not square.
    overwrite : bool, default=False
        Replace existing files instead of raising.

    Returns
    -------
    path : pathlib.Path
        The XML file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skfkd import IBUG_68
    >>> from skfkd.datasets import make_faces, save_dlib_xml
    >>> X, y = make_faces(1, layout=IBUG_68, random_state=0, return_X_y=True)
    >>> xml_file = save_dlib_xml(X, y, Path(tempfile.mkdtemp()) / "faces.xml")
    >>> print(xml_file.read_text().splitlines()[3].strip())
    <image file="image_0000.png">
    """
    images, keypoints, filenames = _check_writer_input(images, keypoints, filenames, image_shape)
    if boxes is None:
        boxes = landmark_boxes(keypoints)
    boxes = np.asarray(boxes, dtype=float)
    if boxes.shape != (len(keypoints), 4) or not np.isfinite(boxes).all():
        raise ValueError(f"boxes need finite values of shape ({len(keypoints)}, 4); got shape {boxes.shape}")
    path = Path(path)
    groups = {}
    for i, name in enumerate(filenames):
        groups.setdefault(name, []).append(i)
    for name, rows in groups.items():
        if any(not np.array_equal(images[rows[0]], images[row]) for row in rows[1:]):
            raise ValueError(f"faces {rows} share the file name {name!r} but hold different photos")
    _refuse_overwrite([path] + [path.parent / name for name in groups], overwrite)
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<dataset>", "<images>"]
    for name, rows in groups.items():
        _write_image(images[rows[0]], path.parent / name)
        lines.append(f"  <image file={quoteattr(name)}>")
        for row in rows:
            left, top, width, height = np.rint(boxes[row]).astype(int)
            lines.append(
                f"    <box top='{top}' left='{left}' width='{max(width, 1)}' height='{max(height, 1)}'>"
            )
            for index, (x, y) in enumerate(keypoints[row]):
                if not np.isnan(x) and not np.isnan(y):
                    lines.append(f"      <part name='{index:02d}' x='{round(x)}' y='{round(y)}'/>")
            lines.append("    </box>")
        lines.append("  </image>")
    lines += ["</images>", "</dataset>"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- shared


def _check_layout(layout):
    if not isinstance(layout, KeypointLayout):
        raise TypeError(f"layout must be a KeypointLayout such as skfkd.IBUG_68; got {type(layout).__name__}")


def _check_writer_input(images, keypoints, filenames, image_shape):
    """Images as a list of arrays, keypoints as ``(n, k, 2)``, filenames as a checked list."""
    if isinstance(images, np.ndarray) and images.dtype != object:
        images = list(as_image_stack(images, image_shape) if images.ndim == 2 else images)
    else:
        images = list(images)
    keypoints = np.asarray(keypoints, dtype=float)
    if keypoints.ndim == 2:
        keypoints = to_keypoints(keypoints)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints need shape (n, k, 2) or (n, 2 * k); got {keypoints.shape}")
    if len(keypoints) != len(images):
        raise ValueError(f"{len(images)} images but {len(keypoints)} rows of keypoints")
    if np.isinf(keypoints).any():
        raise ValueError("keypoints must be finite or NaN (not annotated); found an infinite value")
    if filenames is None:
        filenames = [f"image_{i:04d}.png" for i in range(len(images))]
    filenames = [str(name) for name in filenames]
    if len(filenames) != len(images):
        raise ValueError(f"{len(images)} images but {len(filenames)} filenames")
    for name in filenames:
        relative = PurePosixPath(name.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts or not relative.name:
            raise ValueError(f"filenames must be relative paths inside the output folder; got {name!r}")
        if relative.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"{name!r}: photos are written as {', '.join(IMAGE_SUFFIXES)}")
    return images, keypoints, filenames


def _refuse_overwrite(files, overwrite):
    if not overwrite:
        existing = [file for file in files if file.exists()]
        if existing:
            raise FileExistsError(f"{existing[0]} exists; pass overwrite=True to replace it")


def _write_image(image, file):
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
            raise ValueError(f"{file}: float images must hold values in [0, 1]; convert to uint8 first")
        image = np.rint(image * 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.integer) or image.min() < 0 or image.max() > 255:
            raise ValueError(f"{file}: images must be uint8 (0-255) or floats in [0, 1]; got {image.dtype}")
        image = image.astype(np.uint8)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (1, 3, 4))):
        raise ValueError(f"{file}: an image must be (h, w), (h, w, 3) or (h, w, 4); got shape {image.shape}")
    file.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image).save(file)
