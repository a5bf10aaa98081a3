"""The one photo check: every kind of photo read one way, ambiguous input refused."""

import io

import numpy as np
import pytest
from PIL import Image
from skimage.data import astronaut

from skfkd._images import as_photo_list, check_photo, decode_photo, read_photo

PHOTO = astronaut()[::4, ::4]  # 128 x 128 RGB uint8


@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        (PHOTO, PHOTO),
        (PHOTO.astype(np.uint16) * 257, PHOTO),
        (PHOTO / 255.0, PHOTO),
        (PHOTO.astype(np.float32), PHOTO),  # floats in 0-255
        (PHOTO.astype(np.int32), PHOTO),
        (PHOTO.astype(np.int64) * 257, PHOTO),  # 16-bit values in a wider integer
        (np.dstack([PHOTO, np.full(PHOTO.shape[:2], 7, np.uint8)]), PHOTO),  # RGBA: alpha dropped
        (PHOTO[..., 0], PHOTO[..., 0]),
        (PHOTO[..., :1], PHOTO[..., 0]),
    ],
    ids=["uint8", "uint16", "float-unit", "float-255", "int32", "int64-16bit", "rgba", "gray", "gray-1"],
)
def test_every_photo_kind_becomes_the_same_uint8_photo(photo, expected):
    checked = check_photo(photo)
    assert checked.dtype == np.uint8
    np.testing.assert_array_equal(checked, expected)


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        (np.full((8, 8), -0.5), "float photo with values from -0.5 to -0.5"),
        (np.full((8, 8), 300.0), "float pixels must lie in"),
        (np.full((8, 8), np.nan), "NaN"),
        (np.full((8, 8), -3, np.int16), "integer pixels must lie in 0-255"),
        (np.full((8, 8), 70000, np.int32), "0-65535"),
        (np.zeros((8, 8), bool), "must hold numbers"),
        (np.zeros((8, 8, 2)), "grayscale"),
        (np.zeros((0, 8)), "empty"),
    ],
)
def test_photos_that_cannot_be_read_one_way_are_refused(photo, message):
    with pytest.raises(ValueError, match=message):
        check_photo(photo)


def test_a_bare_photo_is_one_photo_when_unambiguous_and_refused_otherwise():
    assert len(as_photo_list(PHOTO)) == 1  # (h, w, 3): no stack is 3 pixels wide
    assert len(as_photo_list(np.stack([PHOTO, PHOTO]))) == 2  # (n, h, w, 3)
    assert len(as_photo_list(np.stack([PHOTO[..., 0]] * 5))) == 5  # (n, h, w) grayscale stack
    for ambiguous in (PHOTO[..., 0], np.moveaxis(PHOTO, -1, 0)):  # gray photo or rows? channels first?
        with pytest.raises(ValueError, match=r"pass a list, \[photo\] for one photo"):
            as_photo_list(ambiguous)
    with pytest.raises(TypeError, match="a list of photos"):
        as_photo_list(42)


def test_paths_are_photos_read_as_a_viewer_shows_them(tmp_path):
    Image.fromarray(PHOTO).save(tmp_path / "a.png")
    listed = as_photo_list([tmp_path / "a.png", str(tmp_path / "a.png"), PHOTO])
    assert all(np.array_equal(photo, PHOTO) for photo in listed)
    np.testing.assert_array_equal(as_photo_list(tmp_path / "a.png")[0], PHOTO)
    with pytest.raises(FileNotFoundError, match="missing"):
        read_photo(tmp_path / "missing.jpg")
    with pytest.raises(ValueError, match="is a folder"):
        read_photo(tmp_path)


def _jpeg_with_orientation(photo, orientation):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation  # the EXIF Orientation tag
    Image.fromarray(photo).save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("orientation", "shown"),
    [
        (1, lambda p: p),
        (3, lambda p: np.rot90(p, 2)),
        (6, lambda p: np.rot90(p, -1)),
        (8, lambda p: np.rot90(p, 1)),
    ],
)
def test_the_exif_orientation_turns_a_jpeg_as_viewers_show_it(orientation, shown):
    # Orientation 6 says: the stored pixels must be turned 90 degrees clockwise to display.
    stored = PHOTO[:, :96]  # not square, so a wrong turn changes the shape
    decoded = decode_photo(_jpeg_with_orientation(stored, orientation), "test.jpg")
    expected = shown(stored)
    assert decoded.shape == expected.shape
    assert np.abs(decoded.astype(int) - expected).mean() < 8  # JPEG's loss only
    if orientation == 3:  # same shape either way: the pixels must be the turned ones
        assert np.abs(decoded.astype(int) - stored).mean() > 30


def test_damaged_and_bomb_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read the image broken.jpg"):
        decode_photo(b"\xff\xd8\xff\xe0 not really a jpeg", "broken.jpg")
    truncated = _jpeg_with_orientation(PHOTO, 1)[:300]
    with pytest.raises(ValueError, match="cannot read the image cut.jpg"):
        decode_photo(truncated, "cut.jpg")
