import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from skfkd import IBUG_68, to_keypoints
from skfkd._framing import keypoints_from_crop
from skfkd.datasets import load_youtube_faces


def _photo(seed, shape=(120, 100, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _landmarks(seed):
    rng = np.random.default_rng(seed)
    return np.round(rng.uniform(20, 80, (68, 2)))


def _jpeg(photo):
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="PNG")  # lossless, so pixels compare exactly
    return buffer.getvalue()


def _write_dataset(folder, names, *, subset="training", extracted=False, rows=None, photos=None):
    """A miniature YouTube-faces folder in the real layout: CSV + zip (or folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    header = "Names," + ",".join(str(i) for i in range(136))
    if rows is None:
        rows = [
            f"{name}," + ",".join(f"{v:.1f}" for v in _landmarks(i).ravel()) for i, name in enumerate(names)
        ]
    (folder / f"{subset}_frames_keypoints.csv").write_text("\n".join([header, *rows]) + "\n")
    if photos is None:
        photos = {name: _jpeg(_photo(i)) for i, name in enumerate(names)}
    if extracted:
        (folder / subset).mkdir()
        for name, payload in photos.items():
            (folder / subset / name).write_bytes(payload)
    else:
        with zipfile.ZipFile(folder / f"{subset}_images.zip", "w") as archive:
            for name, payload in photos.items():
                archive.writestr(f"{subset}/{name}", payload)
    return folder


NAMES = ["Ann_Lee_00.jpg", "Ann_Lee_01.jpg", "Bo_Chen_Jr_12.jpg"]


@pytest.mark.parametrize("extracted", [False, True], ids=["zip", "folder"])
def test_reads_photos_landmarks_and_identities(tmp_path, extracted):
    faces = load_youtube_faces(_write_dataset(tmp_path, NAMES, extracted=extracted), crop_size=32)
    assert list(faces.filenames) == NAMES
    assert list(faces.identities) == ["Ann_Lee", "Ann_Lee", "Bo_Chen_Jr"]
    for i in range(3):
        np.testing.assert_array_equal(faces.images[i], _photo(i))
        np.testing.assert_array_equal(faces.keypoints[i], _landmarks(i))
    assert faces.data.shape == (3, 32 * 32) and faces.data.dtype == np.uint8
    assert faces.target.shape == (3, 136) and faces.layout is IBUG_68
    # Crop coordinates map back onto the photo coordinates through the crop frames.
    back = keypoints_from_crop(to_keypoints(faces.target), faces.crop_frames, 32)
    np.testing.assert_allclose(back, faces.keypoints, atol=1e-9)


def test_the_test_subset_and_return_X_y(tmp_path):
    folder = _write_dataset(tmp_path, NAMES[:2], subset="test")
    X, y = load_youtube_faces(folder, subset="test", return_X_y=True)
    assert X.shape == (2, 96 * 96) and y.shape == (2, 136)
    with pytest.raises(FileNotFoundError, match="training_frames_keypoints.csv"):
        load_youtube_faces(folder)


def test_crop_size_none_skips_crops(tmp_path):
    faces = load_youtube_faces(_write_dataset(tmp_path, NAMES), crop_size=None)
    assert "data" not in faces and "crop_frames" not in faces and faces.keypoints.shape == (3, 68, 2)
    with pytest.raises(ValueError, match="return_X_y=True needs crops"):
        load_youtube_faces(tmp_path, crop_size=None, return_X_y=True)


def test_missing_files_say_what_and_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"training_frames_keypoints.csv.*downloads nothing"):
        load_youtube_faces(tmp_path)
    header = "Names," + ",".join(map(str, range(136)))
    (tmp_path / "training_frames_keypoints.csv").write_text(header + "\nA_00.jpg" + ",1.0" * 136 + "\n")
    with pytest.raises(FileNotFoundError, match="training_images.zip"):
        load_youtube_faces(tmp_path)


def test_default_path_comes_from_skfkd_data(tmp_path, monkeypatch):
    _write_dataset(tmp_path / "youtube_faces_68", NAMES[:1])
    monkeypatch.setenv("SKFKD_DATA", str(tmp_path))
    assert load_youtube_faces(crop_size=None).filenames.tolist() == NAMES[:1]


def test_photo_missing_from_zip_is_named(tmp_path):
    folder = _write_dataset(tmp_path, NAMES, photos={NAMES[0]: _jpeg(_photo(0))})
    with pytest.raises(FileNotFoundError, match=r"training_images.zip has no training/Ann_Lee_01.jpg"):
        load_youtube_faces(folder)


def test_unreadable_photo_is_named(tmp_path):
    photos = {name: _jpeg(_photo(i)) for i, name in enumerate(NAMES)}
    photos[NAMES[2]] = b"not an image"
    with pytest.raises(ValueError, match=r"cannot read the image .*training/Bo_Chen_Jr_12.jpg"):
        load_youtube_faces(_write_dataset(tmp_path, NAMES, photos=photos))


def test_row_with_wrong_keypoint_count_is_named(tmp_path):
    rows = ["Ann_Lee_00.jpg," + ",".join(["1.0"] * 136), "Ann_Lee_01.jpg," + ",".join(["1.0"] * 134)]
    with pytest.raises(ValueError, match=r"line 3: expected a name and 136 coordinates.*found 134"):
        load_youtube_faces(_write_dataset(tmp_path, NAMES[:2], rows=rows))


def test_non_numeric_cell_is_named(tmp_path):
    rows = ["Ann_Lee_00.jpg," + ",".join(["1.0"] * 135 + ["abc"])]
    with pytest.raises(ValueError, match=r"line 2 \(Ann_Lee_00.jpg\): 'abc' is not a number"):
        load_youtube_faces(_write_dataset(tmp_path, NAMES[:1], rows=rows))


def test_empty_coordinate_is_rejected(tmp_path):
    rows = ["Ann_Lee_00.jpg," + ",".join(["1.0"] * 135 + ["nan"])]
    with pytest.raises(ValueError, match="line 2 .*missing or infinite"):
        load_youtube_faces(_write_dataset(tmp_path, NAMES[:1], rows=rows))


def test_header_that_does_not_fit_the_layout(tmp_path):
    (tmp_path / "training_frames_keypoints.csv").write_text("Names,0,1,2,3\nA_00.jpg,1,2,3,4\n")
    with pytest.raises(ValueError, match=r"136 coordinate columns.*found 4"):
        load_youtube_faces(tmp_path)


def test_csv_without_rows_is_rejected(tmp_path):
    (tmp_path / "training_frames_keypoints.csv").write_text("Names," + ",".join(map(str, range(136))) + "\n")
    with pytest.raises(ValueError, match="lists no photos"):
        load_youtube_faces(tmp_path)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="subset must be one of"):
        load_youtube_faces(tmp_path, subset="validation")
    with pytest.raises(ValueError, match="'crop_size' parameter of the loader must be an int in the range"):
        load_youtube_faces(tmp_path, crop_size=2)


def test_real_training_split(youtube_faces):
    faces = youtube_faces
    assert faces.data.shape == (3462, 96 * 96) and faces.target.shape == (3462, 136)
    assert faces.keypoints.shape == (3462, 68, 2) and len(faces.images) == 3462
    assert len(set(faces.identities)) == 347
    assert np.isfinite(faces.target).all()
    # Every landmark lies inside its crop: the margin frames the whole face.
    assert faces.target.min() >= 0 and faces.target.max() <= 95
    # The README's photo sizes, and an RGB photo for each row.
    widths = [image.shape[1] for image in faces.images]
    assert min(widths) == 72 and max(widths) == 494
    assert all(image.ndim == 3 and image.shape[2] == 3 for image in faces.images)
    # Known oddity kept, not dropped: a landmark outside its photo.
    index = list(faces.filenames).index("Chris_Cooper_42.jpg")
    assert faces.keypoints[index, :, 0].min() == -2


def test_real_crops_show_faces_where_the_landmarks_are(youtube_faces):
    # The eyes are darker than the cheeks below them in the average crop: a mis-framed
    # crop (wrong box maths, swapped x/y) would not line the features up.
    mean_crop = youtube_faces.data.reshape(-1, 96, 96).mean(axis=0)
    mean_points = to_keypoints(youtube_faces.target).mean(axis=0)
    eyes = np.rint(mean_points[36:48].mean(axis=0)).astype(int)
    nose = np.rint(mean_points[29]).astype(int)
    assert mean_crop[eyes[1], eyes[0]] < mean_crop[nose[1], nose[0]] - 5
