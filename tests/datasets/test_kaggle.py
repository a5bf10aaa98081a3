"""Tests for the Kaggle Facial Keypoints Detection CSV reader and writer."""

import csv
import io
import math
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skfkd import KAGGLE_15, to_keypoints
from skfkd.datasets import dump_kaggle_facial_keypoints, load_kaggle_facial_keypoints, make_faces

# The header of Kaggle's training.csv, typed out rather than built from KAGGLE_15, so a
# wrong name or order in the layout fails here.
KAGGLE_HEADER = (
    "left_eye_center_x,left_eye_center_y,right_eye_center_x,right_eye_center_y,"
    "left_eye_inner_corner_x,left_eye_inner_corner_y,left_eye_outer_corner_x,left_eye_outer_corner_y,"
    "right_eye_inner_corner_x,right_eye_inner_corner_y,right_eye_outer_corner_x,right_eye_outer_corner_y,"
    "left_eyebrow_inner_end_x,left_eyebrow_inner_end_y,left_eyebrow_outer_end_x,left_eyebrow_outer_end_y,"
    "right_eyebrow_inner_end_x,right_eyebrow_inner_end_y,right_eyebrow_outer_end_x,right_eyebrow_outer_end_y,"
    "nose_tip_x,nose_tip_y,mouth_left_corner_x,mouth_left_corner_y,mouth_right_corner_x,mouth_right_corner_y,"
    "mouth_center_top_lip_x,mouth_center_top_lip_y,mouth_center_bottom_lip_x,mouth_center_bottom_lip_y,Image"
)
# The first row of Kaggle's training.csv (all 15 keypoints), and a row annotating only
# the eye centres, the nose tip and the bottom lip, as ~70% of the real rows do.
FULL_ROW = (
    "66.0335639098,39.0022736842,30.2270075188,36.4216781955,59.582075188,39.6474225564,"
    "73.1303458647,39.9699969925,36.3565714286,37.3894015038,23.4528721805,37.3894015038,"
    "56.9532631579,29.0336481203,80.2271278195,32.2281383459,40.2276090226,29.0023218045,"
    "16.3563789474,29.6474706767,44.4205714286,57.0668030075,61.1953082707,79.9701654135,"
    "28.6144962406,77.3889924812,43.3126015038,72.9354586466,43.1307067669,84.4857744361"
)
PARTIAL_ROW = "67.4,31.84,29.74,38.63,,,,,,,,,,,,,,,,,48.21,55.66,,,,,,,50.03,79.68"
PARTIAL_ANNOTATED = [0, 1, 2, 3, 20, 21, 28, 29]  # columns holding a value in PARTIAL_ROW
SIDE = 96


def _image_text(pixels):
    return " ".join(str(int(v)) for v in pixels)


def _pixels(seed, n=SIDE * SIDE):
    return np.random.default_rng(seed).integers(0, 256, size=n, dtype=np.uint8)


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _training_file(path, rows, header=KAGGLE_HEADER):
    """A training.csv with the given keypoint-cell strings and a random image per row."""
    lines = [header] + [f"{cells},{_image_text(_pixels(i))}" for i, cells in enumerate(rows)]
    return _write(path, "\n".join(lines) + "\n")


def _assert_identical(actual, expected):
    """Same shape, NaN in the same places, and bit-identical values elsewhere (so -0.0 too)."""
    assert actual.dtype == np.float64
    assert actual.shape == expected.shape
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(actual), nan)
    np.testing.assert_array_equal(actual[~nan].view(np.uint64), expected[~nan].view(np.uint64))


# ------------------------------------------------------------------------- round trips


@st.composite
def _datasets(draw):
    n = draw(st.integers(1, 4))
    side = draw(st.sampled_from([1, 2, 4, SIDE]))
    if side == SIDE:  # large images: content from a drawn seed keeps generation fast
        X = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 256, (n, side * side))
        X = X.astype(np.uint8)
    else:
        X = draw(hnp.arrays(np.uint8, (n, side * side)))
    coordinate = st.floats(allow_nan=True, allow_infinity=False) | st.floats(-200, 300)
    y = draw(hnp.arrays(np.float64, (n, 30), elements=coordinate))
    y[draw(hnp.arrays(np.bool_, (n, 30)))] = np.nan
    return X, y


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    data=_datasets(), where=st.sampled_from(["csv", "zip", "folder csv", "folder zip"]), as_3d=st.booleans()
)
def test_round_trip_training(data, where, as_3d):
    X, y = data
    side = math.isqrt(X.shape[1])
    suffix = "zip" if "zip" in where else "csv"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"training.{suffix}"
        dump_kaggle_facial_keypoints(X.reshape(-1, side, side) if as_3d else X, y, path)
        faces = load_kaggle_facial_keypoints(folder if "folder" in where else path)
    assert faces.data.dtype == np.uint8
    assert faces.images.dtype == np.uint8
    np.testing.assert_array_equal(faces.data, X)
    np.testing.assert_array_equal(faces.images, X.reshape(-1, side, side))
    _assert_identical(faces.target, y)
    _assert_identical(faces.keypoints, to_keypoints(y))
    assert faces.filename == str(path)
    assert "image_ids" not in faces


@st.composite
def _test_sets(draw):
    n = draw(st.integers(1, 4))
    X = draw(hnp.arrays(np.uint8, (n, 9)))
    image_ids = draw(st.none() | hnp.arrays(np.int64, n, elements=st.integers(-(2**63), 2**63 - 1)))
    return X, image_ids


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(data=_test_sets(), suffix=st.sampled_from(["csv", "zip"]), from_folder=st.booleans())
def test_round_trip_test_subset(data, suffix, from_folder):
    X, image_ids = data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"test.{suffix}"
        dump_kaggle_facial_keypoints(X, None, path, image_ids=image_ids)
        faces = load_kaggle_facial_keypoints(folder if from_folder else path, subset="test")
    np.testing.assert_array_equal(faces.data, X)
    assert faces.images.shape == (len(X), 3, 3)
    expected_ids = np.arange(1, len(X) + 1) if image_ids is None else image_ids
    assert faces.image_ids.dtype == np.int64
    np.testing.assert_array_equal(faces.image_ids, expected_ids)
    assert "target" not in faces
    assert "keypoints" not in faces


def test_round_trip_extreme_floats(tmp_path):
    y = np.full((1, 30), np.nan)
    y[0, :12] = [
        -0.0,
        5e-324,
        1.7976931348623157e308,
        -1e-300,
        0.1 + 0.2,
        1 / 3,
        66.0335639098,
        -12345678.987654321,
        2.0**60,
        1e16 + 2,
        96.0,
        0.0,
    ]
    path = tmp_path / "training.csv"
    dump_kaggle_facial_keypoints(np.zeros((1, 4), dtype=np.uint8), y, path)
    _assert_identical(load_kaggle_facial_keypoints(path).target, y)


def test_round_trip_make_faces(tmp_path):
    faces = make_faces(40, layout=KAGGLE_15, missing_rate=0.7, random_state=0)
    assert np.isnan(faces.target).any()
    assert not np.isnan(faces.target).all()
    path = tmp_path / "training.zip"
    dump_kaggle_facial_keypoints(faces.images, faces.target, path)
    loaded = load_kaggle_facial_keypoints(path)
    np.testing.assert_array_equal(loaded.images, faces.images)
    _assert_identical(loaded.target, faces.target)
    _assert_identical(loaded.keypoints, faces.keypoints)


def test_large_images_and_csv_limit_restored(tmp_path):
    # A 200 x 200 Image cell is longer than the csv module's default 128 KiB field limit.
    X = _pixels(3, 200 * 200)[None]
    path = tmp_path / "test.csv"
    dump_kaggle_facial_keypoints(X, None, path)
    limit = csv.field_size_limit()
    assert path.stat().st_size > limit
    faces = load_kaggle_facial_keypoints(path, subset="test")
    assert csv.field_size_limit() == limit
    np.testing.assert_array_equal(faces.images[0], X.reshape(200, 200))


# ------------------------------------------------------------------- the Kaggle format


def test_reads_hand_written_kaggle_file(tmp_path):
    images = [_pixels(0), _pixels(1)]
    text = (
        KAGGLE_HEADER
        + "\n"
        + FULL_ROW
        + ","
        + _image_text(images[0])
        + "\n"
        + PARTIAL_ROW
        + ","
        + _image_text(images[1])
        + "\n"
    )
    path = _write(tmp_path / "training.csv", text)
    faces = load_kaggle_facial_keypoints(path)

    assert faces.target_names == KAGGLE_HEADER.split(",")[:-1]
    assert faces.layout is KAGGLE_15
    assert faces.data.shape == (2, SIDE * SIDE)
    assert faces.images.shape == (2, SIDE, SIDE)
    np.testing.assert_array_equal(faces.data, np.stack(images))
    assert faces.target.shape == (2, 30)
    assert faces.target[0, 0] == 66.0335639098
    assert faces.target[0, 29] == 84.4857744361
    assert not np.isnan(faces.target[0]).any()
    expected_nan = np.ones(30, dtype=bool)
    expected_nan[PARTIAL_ANNOTATED] = False
    np.testing.assert_array_equal(np.isnan(faces.target[1]), expected_nan)
    np.testing.assert_array_equal(
        faces.target[1, PARTIAL_ANNOTATED], [67.4, 31.84, 29.74, 38.63, 48.21, 55.66, 50.03, 79.68]
    )
    # keypoints are (x, y) pairs: nose tip of row 1 is (48.21, 55.66)
    assert faces.keypoints.shape == (2, 15, 2)
    np.testing.assert_array_equal(faces.keypoints[1, 10], [48.21, 55.66])
    assert "2 images of 96 x 96 pixels; 1 annotate all 15 keypoints, 1 some of them" in faces.DESCR
    assert "70%" in faces.DESCR

    X, y = load_kaggle_facial_keypoints(path, return_X_y=True)
    np.testing.assert_array_equal(X, faces.data)
    _assert_identical(y, faces.target)


def test_reads_quoted_cells_crlf_and_bom(tmp_path):
    # Excel and other writers quote every cell, end lines with CRLF and may add a BOM.
    cells = ",".join(f'"{c}"' for c in PARTIAL_ROW.split(","))
    text = "\ufeff" + KAGGLE_HEADER + "\r\n" + cells + ',"' + _image_text(_pixels(0)) + '"\r\n'
    faces = load_kaggle_facial_keypoints(_write(tmp_path / "training.csv", text))
    np.testing.assert_array_equal(faces.data[0], _pixels(0))
    assert np.isnan(faces.target[0]).sum() == 30 - len(PARTIAL_ANNOTATED)
    assert faces.target[0, 28] == 50.03


def test_columns_in_any_order(tmp_path):
    names = KAGGLE_HEADER.split(",")
    order = np.random.default_rng(0).permutation(len(names))
    cells = (FULL_ROW + ",IMAGE").split(",")
    row = ",".join(cells[i] for i in order).replace("IMAGE", _image_text(_pixels(0)))
    path = _write(tmp_path / "training.csv", ",".join(names[i] for i in order) + "\n" + row + "\n")
    faces = load_kaggle_facial_keypoints(path)
    np.testing.assert_array_equal(faces.target[0], [float(c) for c in FULL_ROW.split(",")])
    np.testing.assert_array_equal(faces.data[0], _pixels(0))


def test_reads_hand_written_test_file(tmp_path):
    text = "ImageId,Image\n1," + _image_text(_pixels(0)) + "\n2," + _image_text(_pixels(1)) + "\n"
    path = _write(tmp_path / "test.csv", text)
    faces = load_kaggle_facial_keypoints(path, subset="test")
    np.testing.assert_array_equal(faces.image_ids, [1, 2])
    np.testing.assert_array_equal(faces.images[1], _pixels(1).reshape(SIDE, SIDE))
    assert faces.target_names == list(KAGGLE_15.target_names)
    X, y = load_kaggle_facial_keypoints(path, subset="test", return_X_y=True)
    assert y is None
    np.testing.assert_array_equal(X, faces.data)


def test_header_only_gives_zero_rows(tmp_path):
    faces = load_kaggle_facial_keypoints(_write(tmp_path / "training.csv", KAGGLE_HEADER + "\n"))
    assert faces.data.shape == (0, SIDE * SIDE)
    assert faces.data.dtype == np.uint8
    assert faces.images.shape == (0, SIDE, SIDE)
    assert faces.target.shape == (0, 30)
    assert faces.keypoints.shape == (0, 15, 2)
    test = load_kaggle_facial_keypoints(_write(tmp_path / "test.csv", "ImageId,Image\n"), subset="test")
    assert test.data.shape == (0, SIDE * SIDE)
    assert test.image_ids.shape == (0,)


def test_blank_lines_are_skipped_and_counted(tmp_path):
    text = KAGGLE_HEADER + "\n\n" + PARTIAL_ROW + ",1 2 3 4\n\n" + PARTIAL_ROW + ",1 2 3\n"
    path = _write(tmp_path / "training.csv", text)
    with pytest.raises(ValueError, match=r"data row 2 \(line 5\): Image has 3 pixel values, expected 4"):
        load_kaggle_facial_keypoints(path)


def test_dump_writes_kaggle_text(tmp_path):
    y = np.full((2, 30), np.nan)
    y[0] = [float(c) for c in FULL_ROW.split(",")]
    y[1, PARTIAL_ANNOTATED] = [67.4, 31.84, 29.74, 38.63, 48.21, 55.66, 50.03, 79.68]
    X = np.array([[0, 255, 7, 10], [1, 2, 3, 4]], dtype=np.uint8)
    path = tmp_path / "training.csv"
    dump_kaggle_facial_keypoints(X, y, path)
    expected = f"{KAGGLE_HEADER}\n{FULL_ROW},0 255 7 10\n{PARTIAL_ROW},1 2 3 4\n"
    assert path.read_bytes() == expected.encode("ascii")

    dump_kaggle_facial_keypoints(X.astype(float), None, tmp_path / "test.csv")
    assert (tmp_path / "test.csv").read_text() == "ImageId,Image\n1,0 255 7 10\n2,1 2 3 4\n"


def test_dump_zip_member_names(tmp_path):
    X = np.zeros((1, 4), dtype=np.uint8)
    dump_kaggle_facial_keypoints(X, np.zeros((1, 30)), tmp_path / "a.ZIP")
    dump_kaggle_facial_keypoints(X, None, tmp_path / "b.zip")
    assert zipfile.ZipFile(tmp_path / "a.ZIP").namelist() == ["training.csv"]
    assert zipfile.ZipFile(tmp_path / "b.zip").namelist() == ["test.csv"]


def test_dump_to_file_object():
    buffer = io.StringIO()
    dump_kaggle_facial_keypoints(np.ones((1, 1, 1)), None, buffer, image_ids=[42.0])
    assert buffer.getvalue() == "ImageId,Image\n42,1\n"


def test_folder_prefers_csv_and_default_folder(tmp_path, monkeypatch):
    folder = tmp_path / "kaggle_facial_keypoints"
    folder.mkdir()
    dump_kaggle_facial_keypoints(np.zeros((1, 4)), np.zeros((1, 30)), folder / "training.zip")
    dump_kaggle_facial_keypoints(np.ones((2, 4)), np.zeros((2, 30)), folder / "training.csv")
    monkeypatch.setenv("SKFKD_DATA", str(tmp_path))
    faces = load_kaggle_facial_keypoints()
    assert faces.filename == str(folder / "training.csv")
    assert len(faces.data) == 2


# ------------------------------------------------------------------------------ errors


def test_missing_files(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"training\.csv or training\.zip"):
        load_kaggle_facial_keypoints(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"test\.csv or test\.zip") as info:
        load_kaggle_facial_keypoints(tmp_path / "nowhere", subset="test")
    assert str(tmp_path / "nowhere" / "test.csv") in str(info.value)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "gone.zip"))):
        load_kaggle_facial_keypoints(tmp_path / "gone.zip")
    monkeypatch.setenv("SKFKD_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="skfkd downloads nothing") as info:
        load_kaggle_facial_keypoints()
    assert str(tmp_path / "kaggle_facial_keypoints" / "training.csv") in str(info.value)


def test_unknown_subset(tmp_path):
    with pytest.raises(ValueError, match="subset must be one of"):
        load_kaggle_facial_keypoints(tmp_path, subset="train")


def test_empty_file(tmp_path):
    with pytest.raises(ValueError, match=r"training\.csv is empty"):
        load_kaggle_facial_keypoints(_write(tmp_path / "training.csv", ""))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (KAGGLE_HEADER.replace("nose_tip_x,", ""), r"missing columns \['nose_tip_x'\]"),
        (KAGGLE_HEADER.replace(",Image", ""), r"missing columns \['Image'\]"),
        (KAGGLE_HEADER + ",Extra", r"unknown columns \['Extra'\]"),
        (
            KAGGLE_HEADER.replace("nose_tip_y", "nose_tip_x"),
            r"missing columns \['nose_tip_y'\].*duplicated columns \['nose_tip_x'\]",
        ),
        (
            "ImageId,Image",
            r"missing columns \['left_eye_center_x'.*unknown columns \['ImageId'\].*pass subset='test'",
        ),
    ],
)
def test_bad_training_columns(tmp_path, header, message):
    path = _write(tmp_path / "training.csv", header + "\n")
    with pytest.raises(ValueError, match=message) as info:
        load_kaggle_facial_keypoints(path)
    assert str(path) in str(info.value)


# A guard against a hang, not a timing test: checking a header is linear in its width
# (it was quadratic: about two hours for these million columns).
@pytest.mark.timeout(60)
@pytest.mark.parametrize("duplicate", [False, True])
def test_a_million_column_header_is_refused_quickly_in_a_short_message(tmp_path, duplicate):
    extra = ["x"] * 10**6 if duplicate else [f"extra_{i}" for i in range(10**6)]
    path = _write(tmp_path / "training.csv", KAGGLE_HEADER + "," + ",".join(extra) + "\n")
    with pytest.raises(ValueError, match="duplicated columns" if duplicate else "unknown columns") as info:
        load_kaggle_facial_keypoints(path)
    message = str(info.value)
    assert len(message) < 1500 and ("(1000000 in all)" in message or duplicate)


def test_bad_test_columns(tmp_path):
    path = _training_file(tmp_path / "test.csv", [FULL_ROW])
    with pytest.raises(ValueError, match=r"missing columns \['ImageId'\].*pass subset='training'"):
        load_kaggle_facial_keypoints(path, subset="test")
    path = _write(tmp_path / "t.csv", "ImageId,Image,ImageId\n")
    with pytest.raises(ValueError, match=r"t\.csv.*duplicated columns \['ImageId'\]"):
        load_kaggle_facial_keypoints(path, subset="test")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (FULL_ROW.rsplit(",", 1)[0], r"30 cells, expected 31"),
        (FULL_ROW + ",1.5", r"32 cells, expected 31"),
        (
            PARTIAL_ROW.replace("50.03", "abc"),
            r"column 'mouth_center_bottom_lip_x' holds 'abc', which is not a finite number",
        ),
        (PARTIAL_ROW.replace("67.4", "1,5"), r"32 cells, expected 31"),
        (PARTIAL_ROW.replace("67.4", "inf"), r"column 'left_eye_center_x' holds 'inf'"),
        (PARTIAL_ROW.replace("67.4", "12 px"), r"column 'left_eye_center_x' holds '12 px'"),
    ],
)
def test_bad_keypoint_rows(tmp_path, row, message):
    path = _training_file(tmp_path / "training.csv", [FULL_ROW, row, FULL_ROW])
    with pytest.raises(ValueError, match=re.escape(str(path)) + r", data row 2 \(line 3\): " + message):
        load_kaggle_facial_keypoints(path)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (" ".join(["7"] * 9215), r"Image has 9215 pixel values, expected 9216 like the first row"),
        (" ".join(["7"] * 9217), r"Image has 9217 pixel values, expected 9216"),
        ("", r"Image has 0 pixel values, expected 9216"),
        ("   ", r"Image has 0 pixel values, expected 9216"),
        ("3 1.5" + " 7" * 9214, r"Image pixel value 2 is '1.5', not an integer in 0..255"),
        ("3 4 256" + " 7" * 9213, r"Image pixel value 3 is 256, outside 0..255"),
        ("3 -1" + " 7" * 9214, r"Image pixel value 2 is -1, outside 0..255"),
        ("3 x" + " 7" * 9214, r"Image pixel value 2 is 'x', not an integer"),
        ("99999999999999999999999" + " 7" * 9215, r"Image pixel value 1 is 99999999999999999999999, outside"),
    ],
)
def test_bad_image_rows(tmp_path, image, message):
    good = f"{FULL_ROW},{_image_text(_pixels(0))}"
    text = f"{KAGGLE_HEADER}\n{good}\n{good}\n{PARTIAL_ROW},{image}\n"
    path = _write(tmp_path / "training.csv", text)
    with pytest.raises(ValueError, match=re.escape(str(path)) + r", data row 3 \(line 4\): " + message):
        load_kaggle_facial_keypoints(path)


def test_first_image_not_square(tmp_path):
    path = _write(tmp_path / "test.csv", "ImageId,Image\n1," + " ".join(["0"] * 9215) + "\n")
    with pytest.raises(
        ValueError, match=r"test\.csv, data row 1 \(line 2\): Image has 9215 pixel values, which is not"
    ):
        load_kaggle_facial_keypoints(path, subset="test")


def test_image_with_tabs_and_signs_is_read(tmp_path):
    # Off the fast path: any whitespace separates values, and "+5" is the integer 5.
    # Spaces around column names are ignored too.
    path = _write(tmp_path / "test.csv", "ImageId, Image \n1,1\t+5  200 0\n")
    np.testing.assert_array_equal(load_kaggle_facial_keypoints(path, subset="test").data, [[1, 5, 200, 0]])


def test_bad_image_id(tmp_path):
    path = _write(tmp_path / "test.csv", "ImageId,Image\n1,0 0 0 0\n2.5,0 0 0 0\n")
    with pytest.raises(
        ValueError, match=r"test\.csv, data row 2 \(line 3\): ImageId is '2\.5', not an integer"
    ):
        load_kaggle_facial_keypoints(path, subset="test")


def test_not_text_or_not_csv(tmp_path):
    path = _write(tmp_path / "training.csv", KAGGLE_HEADER + "\n", encoding="utf-16")
    with pytest.raises(ValueError, match=r"training\.csv is not UTF-8 text"):
        load_kaggle_facial_keypoints(path)
    path = _write(tmp_path / "test.csv", 'ImageId,Image\n1,"0 0 0 0"x\n')
    with pytest.raises(ValueError, match=r"test\.csv, line 2: not valid CSV"):
        load_kaggle_facial_keypoints(path, subset="test")
    # An unclosed quote would otherwise swallow the rest of the file into one cell.
    path = _write(tmp_path / "test.csv", 'ImageId,Image\n1,0 0 0 0\n2,"0 0 0 0\n3,0 0 0 0\n')
    with pytest.raises(ValueError, match=r"test\.csv, line 4: not valid CSV \(unexpected end of data\)"):
        load_kaggle_facial_keypoints(path, subset="test")


def test_bad_zips(tmp_path):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "no data")
    with pytest.raises(
        ValueError, match=r"empty\.zip holds no \.csv file, expected exactly one; it holds: readme\.txt"
    ):
        load_kaggle_facial_keypoints(empty)
    both = tmp_path / "both.zip"
    with zipfile.ZipFile(both, "w") as archive:
        archive.writestr("training.csv", KAGGLE_HEADER + "\n")
        archive.writestr("test.csv", "ImageId,Image\n")
        archive.writestr("__MACOSX/._training.csv", "resource fork")
    with pytest.raises(ValueError, match=r"both\.zip holds 2 \.csv files.*training\.csv, test\.csv"):
        load_kaggle_facial_keypoints(both)
    _write(tmp_path / "training.zip", "not a zip")
    with pytest.raises(ValueError, match=r"training\.zip is not a valid zip file"):
        load_kaggle_facial_keypoints(tmp_path)


def test_errors_inside_zip_name_the_member(tmp_path):
    path = tmp_path / "training.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "data/training.csv", f"{KAGGLE_HEADER}\n{PARTIAL_ROW},1 2 3 4\n{PARTIAL_ROW},1 2 x 4\n"
        )
        archive.writestr("__MACOSX/data/._training.csv", "resource fork")
    with pytest.raises(
        ValueError, match=r"training\.zip \(member data/training\.csv\), data row 2 \(line 3\)"
    ):
        load_kaggle_facial_keypoints(path)


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "message"),
    [
        (np.full((1, 4), 1.5), None, {}, "integer pixel values in 0..255; row 0"),
        (np.array([[0, 0, 0, 0], [0, np.nan, 0, 0]]), None, {}, "row 1 holds non-integers"),
        (np.array([[0, 0, 0, 256]]), None, {}, "row 0 holds values outside"),
        (np.array([[0, 0, 0, -1]]), None, {}, "values outside that range"),
        (np.zeros((1, 5)), None, {}, "square images.*5 columns"),
        (np.zeros((1, 2, 3)), None, {}, r"square images.*\(2, 3\)"),
        (np.zeros(4), None, {}, r"shape \(n_samples, side \* side\)"),
        (np.array([["a"] * 4]), None, {}, "dtype <U1"),
        (np.zeros((1, 4)), np.zeros((1, 29)), {}, "targets need shape"),
        (np.zeros((1, 4)), np.zeros((2, 30)), {}, "X has 1 samples but y has 2 rows"),
        (np.zeros((1, 4)), np.full((1, 30), np.inf), {}, "infinite"),
        (np.zeros((1, 4)), np.zeros((1, 30)), {"image_ids": [1]}, "image_ids belong to the test format"),
        (np.zeros((2, 4)), None, {"image_ids": [1]}, r"image_ids must have shape \(2,\)"),
        (np.zeros((1, 4)), None, {"image_ids": [1.5]}, "image_ids must be integers"),
    ],
)
def test_dump_errors(tmp_path, X, y, kwargs, message):
    path = tmp_path / "out.csv"
    with pytest.raises(ValueError, match=message):
        dump_kaggle_facial_keypoints(X, y, path, **kwargs)
    assert not path.exists()
