import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from skfkd import IBUG_68, KAGGLE_15, KeypointLayout
from skfkd._framing import frames_from_keypoints, keypoints_from_crop, landmark_boxes
from skfkd.datasets import (
    load_dlib_xml,
    load_landmark_folder,
    load_youtube_faces,
    make_faces,
    save_dlib_xml,
    save_landmark_folder,
)
from skfkd.datasets._landmark_files import _format_pts, _read_pts

TWO_POINTS = KeypointLayout("pair", ("a", "b"), flip_pairs=((0, 1),), interocular=(0, 1))


def _photo(seed, shape=(40, 50, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _keypoints(seed, n=1, k=68, low=5.0, high=35.0):
    return np.random.default_rng(seed).uniform(low, high, (n, k, 2))


def _pts_text(points, n_points=None):
    n_points = len(points) if n_points is None else n_points
    body = "\n".join(f"{x + 1} {y + 1}" for x, y in points)
    return f"version: 1\nn_points:  {n_points}\n{{\n{body}\n}}\n"


def _write_pair(folder, stem, points, *, seed=0, suffix=".png", text=None):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_photo(seed)).save(folder / f"{stem}{suffix}")
    (folder / f"{stem}.pts").write_text(_pts_text(points) if text is None else text)


# ----------------------------------------------------------------- round trips (hypothesis)

coordinates = st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=True, width=64)


@settings(max_examples=40)
@given(
    points=arrays(np.float64, st.tuples(st.integers(1, 3), st.just(2), st.just(2)), elements=coordinates),
    height=st.integers(8, 40),
    width=st.integers(8, 40),
)
def test_pts_folder_round_trip_is_exact(tmp_path_factory, points, height, width):
    folder = tmp_path_factory.mktemp("pts")
    images = [_photo(i, (height, width, 3)) for i in range(len(points))]
    save_landmark_folder(images, points, folder)
    loaded = load_landmark_folder(folder, layout=TWO_POINTS, crop_size=None)
    # Exact, with no drift from the 1-based shift: the same floats come back bit for bit.
    np.testing.assert_array_equal(loaded.keypoints, points)
    for original, read in zip(images, loaded.images):
        np.testing.assert_array_equal(read, original)


@settings(max_examples=40)
@given(points=arrays(np.float64, (68, 2), elements=coordinates))
def test_pts_text_shifts_to_one_based_and_back(points, tmp_path_factory):
    file = tmp_path_factory.mktemp("one") / "face.pts"
    file.write_text(_format_pts(points))
    lines = file.read_text().splitlines()
    assert lines[:3] == ["version: 1", "n_points:  68", "{"] and lines[-1] == "}"
    written = np.array([line.split() for line in lines[3:-1]], dtype=float)
    np.testing.assert_allclose(written, points + 1, rtol=1e-15, atol=1e-12)
    np.testing.assert_array_equal(_read_pts(file, IBUG_68), points)


@settings(max_examples=30)
@given(
    points=arrays(np.float64, (2, 68, 2), elements=st.integers(-20, 200).map(float)),
    missing=arrays(np.bool_, (2, 68)),
    height=st.integers(8, 64),
)
def test_dlib_xml_round_trip_is_exact_for_whole_pixels(tmp_path_factory, points, missing, height):
    missing[:, 0] = False  # a face needs a point to frame its crop on
    points[missing] = np.nan
    xml_file = tmp_path_factory.mktemp("xml") / "faces.xml"
    images = [_photo(i, (height, 30)) for i in range(2)]
    save_dlib_xml(images, points, xml_file)
    loaded = load_dlib_xml(xml_file, crop_size=None)
    np.testing.assert_array_equal(loaded.keypoints, points)  # NaN where a part was left out
    np.testing.assert_array_equal(loaded.images[1], np.stack([images[1]] * 3, axis=-1))


@settings(max_examples=30)
@given(points=arrays(np.float64, (1, 68, 2), elements=st.floats(-50, 500, allow_nan=False)))
def test_dlib_xml_rounds_to_whole_pixels(tmp_path_factory, points):
    xml_file = tmp_path_factory.mktemp("xml") / "faces.xml"
    save_dlib_xml([_photo(0)], points, xml_file)
    loaded = load_dlib_xml(xml_file, crop_size=None)
    assert np.abs(loaded.keypoints - points).max() <= 0.5
    np.testing.assert_array_equal(loaded.keypoints, np.round(points))


# ----------------------------------------------------------------- loaders


def test_folder_is_read_recursively_in_sorted_order_with_sources(tmp_path):
    root = tmp_path / "mine"
    _write_pair(root / "outdoor", "b", _keypoints(1)[0], seed=1, suffix=".JPG")
    _write_pair(root, "z", _keypoints(2)[0], seed=2)
    _write_pair(root / "indoor", "a", _keypoints(0)[0], seed=0)
    faces = load_landmark_folder(root, crop_size=32)
    assert faces.filenames.tolist() == ["indoor/a.png", "outdoor/b.JPG", "z.png"]
    assert faces.sources.tolist() == ["mine/indoor", "mine/outdoor", "mine"]
    np.testing.assert_allclose(faces.keypoints[0], _keypoints(0)[0], atol=1e-12)
    np.testing.assert_array_equal(faces.images[2], _photo(2))
    assert faces.layout is IBUG_68 and faces.data.shape == (3, 32 * 32) and faces.target.shape == (3, 136)


def test_folder_crops_use_the_youtube_framing(tmp_path):
    points = _keypoints(0, n=2, low=8, high=30)
    save_landmark_folder([_photo(0), _photo(1)], points, tmp_path)
    faces = load_landmark_folder(tmp_path, crop_size=24, crop_margin=0.2)
    np.testing.assert_allclose(faces.crop_frames, frames_from_keypoints(faces.keypoints, 0.2))
    back = keypoints_from_crop(faces.target.reshape(2, 68, 2), faces.crop_frames, 24)
    np.testing.assert_allclose(back, points, atol=1e-9)
    X, y = load_landmark_folder(tmp_path, crop_size=24, crop_margin=0.2, return_X_y=True)
    np.testing.assert_array_equal(X, faces.data)
    np.testing.assert_array_equal(y, faces.target)


def test_datasets_of_different_photo_sizes_concatenate_through_their_crops(tmp_path):
    small = tmp_path / "small"
    large = tmp_path / "large"
    save_landmark_folder([_photo(0, (40, 50, 3))], _keypoints(0), small)
    save_landmark_folder([_photo(1, (300, 200, 3))], _keypoints(1, low=50, high=150), large)
    a, b = load_landmark_folder(small, crop_size=32), load_landmark_folder(large, crop_size=32)
    X = np.concatenate([a.data, b.data])
    sources = np.concatenate([a.sources, b.sources])
    assert X.shape == (2, 1024) and sources.tolist() == ["small", "large"]


def test_dlib_xml_keeps_several_faces_per_photo_and_skips_ignored_boxes(tmp_path):
    Image.fromarray(_photo(0, (60, 80, 3))).save(tmp_path / "group.png")
    parts = "".join(f"<part name='{i:02d}' x='{10 + i % 20}' y='{12 + i % 7}'/>" for i in range(68))
    (tmp_path / "faces.xml").write_text(
        "<?xml version='1.0'?>\n<dataset><name>t</name><images>\n"
        f"<image file='group.png'>\n<box top='5' left='6' width='30' height='31'>{parts}</box>\n"
        f"<box top='1' left='40' width='20' height='20'><part name='3' x='50' y='9'/></box>\n"
        f"<box top='1' left='1' width='9' height='9' ignore='1'>{parts}</box>\n"
        "</image>\n</images></dataset>\n"
    )
    with pytest.warns(UserWarning, match="1 marked ignore='1'"):
        faces = load_dlib_xml(tmp_path / "faces.xml", crop_size=16)
    assert len(faces.keypoints) == 2 and faces.filenames.tolist() == ["group.png", "group.png"]
    assert faces.images[0] is faces.images[1]  # one decoded photo for both faces
    np.testing.assert_array_equal(faces.face_boxes, [[6, 5, 30, 31], [40, 1, 20, 20]])
    assert np.isnan(faces.keypoints[1]).sum() == 2 * 67 and faces.keypoints[1, 3].tolist() == [50, 9]
    assert faces.sources.tolist() == ["faces.xml", "faces.xml"]


def test_dlib_xml_box_framing_keeps_faces_without_parts(tmp_path):
    Image.fromarray(_photo(0)).save(tmp_path / "a.png")
    (tmp_path / "f.xml").write_text(
        "<dataset><images><image file='a.png'><box top='4' left='5' width='20' height='10'/></image>"
        "</images></dataset>"
    )
    with pytest.warns(UserWarning, match="no part to frame"), pytest.raises(ValueError, match="no face"):
        load_dlib_xml(tmp_path / "f.xml")
    faces = load_dlib_xml(tmp_path / "f.xml", crop_from="boxes", crop_margin=0.0, crop_size=16)
    np.testing.assert_array_equal(faces.crop_frames, [[15, 9, 20, 0]])  # squared about the centre
    assert np.isnan(faces.target).all()


def test_part_names_may_be_the_layouts_keypoint_names(tmp_path):
    Image.fromarray(_photo(0)).save(tmp_path / "a.png")
    (tmp_path / "f.xml").write_text(
        "<dataset><images><image file='a.png'><box top='0' left='0' width='9' height='9'>"
        "<part name='right_eye_center' x='3' y='4'/><part name='0' x='7' y='4'/></box></image></images></dataset>"
    )
    faces = load_dlib_xml(tmp_path / "f.xml", layout=KAGGLE_15, crop_size=None)
    assert faces.keypoints[0, :2].tolist() == [[7, 4], [3, 4]]


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_pts_text(np.ones((67, 2))), r"line 2: n_points is 67 but layout 'ibug_68' has 68"),
        (_pts_text(np.ones((67, 2)), n_points=68), "n_points says 68 but the file lists 67"),
        ("version: 1\nn_points 68\n{\n}\n", r"line 2: expected a header line"),
        ("version: 1\nn_points: many\n{\n}\n", "line 2: n_points must be a whole number"),
        ("version: 2\nn_points: 68\n{\n}\n", "line 1: only version 1"),
        ("version: 1\n{\n}\n", "no 'n_points:' line"),
        ("version: 1\nn_points: 68\n" + "1 2\n" * 68 + "}\n", r"line 3: expected a header line"),
        ("version: 1\nn_points: 68\n{\n" + "1 2\n" * 68, "has no closing '}'"),
        ("version: 1\nn_points: 68\n", "no '{' opens"),
        (
            "version: 1\nn_points: 68\n{\n" + "1 2\n" * 10 + "1 x\n" + "1 2\n" * 57 + "}\n",
            "line 14:.*not a pair",
        ),
        ("version: 1\nn_points: 68\n{\n" + "1 2 3\n" + "1 2\n" * 67 + "}\n", r"line 4: expected 'x y'"),
        ("version: 1\nn_points: 68\n{\n" + "1 inf\n" + "1 2\n" * 67 + "}\n", "line 4: .*finite"),
        (_pts_text(np.ones((68, 2))) + "1 2\n", "line 73: unexpected text after"),
    ],
    ids=[
        "count-vs-layout",
        "count-vs-header",
        "header",
        "n_points",
        "version",
        "no-n_points",
        "no-open",
        "no-close",
        "no-points",
        "non-numeric",
        "three-values",
        "infinite",
        "after-close",
    ],
)
def test_bad_pts_files_name_the_file_and_line(tmp_path, text, message):
    _write_pair(tmp_path, "face", None, text=text)
    with pytest.raises(ValueError, match=message) as error:
        load_landmark_folder(tmp_path)
    assert "face.pts" in str(error.value)


def test_photos_without_pts_are_counted_in_a_warning(tmp_path):
    _write_pair(tmp_path, "a", _keypoints(0)[0])
    for name in ("b.png", "c.jpg"):
        Image.fromarray(_photo(1)).save(tmp_path / name)
    with pytest.warns(UserWarning, match=r"2 photos in .* have no \.pts file .*b\.png, c\.jpg"):
        faces = load_landmark_folder(tmp_path, crop_size=None)
    assert faces.filenames.tolist() == ["a.png"]


def test_pts_without_its_photo_is_an_error(tmp_path):
    _write_pair(tmp_path, "a", _keypoints(0)[0])
    (tmp_path / "lonely.pts").write_text(_pts_text(_keypoints(1)[0]))
    with pytest.raises(FileNotFoundError, match="lonely.pts has no JPEG or PNG photo"):
        load_landmark_folder(tmp_path)


def test_two_photos_for_one_pts_is_an_error(tmp_path):
    _write_pair(tmp_path, "a", _keypoints(0)[0])
    Image.fromarray(_photo(1)).save(tmp_path / "a.jpg")
    with pytest.raises(ValueError, match="share a name"):
        load_landmark_folder(tmp_path)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_photos_are_named(tmp_path, damage):
    _write_pair(tmp_path, "a", _keypoints(0)[0], suffix=".jpg")
    photo = tmp_path / "a.jpg"
    payload = photo.read_bytes()
    photo.write_bytes(b"not an image" if damage == "garbage" else payload[: len(payload) // 2])
    with pytest.raises(ValueError, match=r"cannot read the image .*a\.jpg"):
        load_landmark_folder(tmp_path)


def test_missing_or_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_landmark_folder(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="holds no .pts file"):
        load_landmark_folder(tmp_path)


def _xml(tmp_path, box_body, box_attributes="top='0' left='0' width='9' height='9'"):
    Image.fromarray(_photo(0)).save(tmp_path / "a.png")
    file = tmp_path / "f.xml"
    file.write_text(
        "<dataset>\n<images>\n<image file='a.png'>\n"
        f"<box {box_attributes}>\n{box_body}\n</box>\n</image>\n</images>\n</dataset>\n"
    )
    return file


@pytest.mark.parametrize(
    ("body", "attributes", "message"),
    [
        (
            "<part name='68' x='1' y='2'/>",
            None,
            r"line 5: part name '68' is not a keypoint of layout 'ibug_68'",
        ),
        ("<part name='nose' x='1' y='2'/>", None, "line 5: part name 'nose'"),
        ("<part name='01' x='1' y='two'/>", None, r"line 5: <part> y='two' is not a number"),
        ("<part name='01' x='1'/>", None, r"line 5: <part> has no 'y' attribute"),
        ("<part x='1' y='1'/>", None, "line 5: <part> has no 'name'"),
        (
            "<part name='1' x='1' y='1'/>\n<part name='01' x='1' y='1'/>",
            None,
            "line 6: part '01' appears twice",
        ),
        ("", "top='0' left='0' width='9'", r"line 4: <box> has no 'height'"),
        ("", "top='0' left='0' width='-9' height='3'", "line 4: <box> needs a positive width"),
        ("<part name='1' x='1' y='1'>", None, r"line 6: not valid XML"),
    ],
    ids=["index", "name", "number", "no-y", "no-name", "twice", "no-height", "negative", "malformed"],
)
def test_bad_dlib_xml_names_the_file_and_line(tmp_path, body, attributes, message):
    file = _xml(tmp_path, body, *(() if attributes is None else (attributes,)))
    with pytest.raises(ValueError, match=message) as error:
        load_dlib_xml(file)
    assert "f.xml" in str(error.value)


def test_dlib_xml_missing_photo_names_the_line(tmp_path):
    file = _xml(tmp_path, "<part name='0' x='1' y='1'/>")
    (tmp_path / "a.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"f\.xml, line 3: the photo .*a\.png is missing"):
        load_dlib_xml(file)
    with pytest.raises(FileNotFoundError, match="XML file .* is missing"):
        load_dlib_xml(tmp_path / "none.xml")


def test_writers_refuse_what_the_formats_cannot_hold(tmp_path):
    points = _keypoints(0, n=2)
    images = [_photo(0), _photo(1)]
    partial = points.copy()
    partial[1, 5] = np.nan
    with pytest.raises(ValueError, match=r"face 1 \(image_0001.png\) hold NaN"):
        save_landmark_folder(images, partial, tmp_path / "a")
    with pytest.raises(ValueError, match="named more than once"):
        save_landmark_folder(images, points, tmp_path / "b", filenames=["x.png", "x.png"])
    with pytest.raises(ValueError, match="share the file name 'x.png' but hold different photos"):
        save_dlib_xml(images, points, tmp_path / "c.xml", filenames=["x.png", "x.png"])
    with pytest.raises(ValueError, match="relative paths inside"):
        save_landmark_folder(images, points, tmp_path / "d", filenames=["../x.png", "y.png"])
    with pytest.raises(ValueError, match=r"written as \.jpg"):
        save_landmark_folder(images, points, tmp_path / "e", filenames=["x.gif", "y.png"])
    with pytest.raises(ValueError, match="2 images but 1 rows"):
        save_landmark_folder(images, points[:1], tmp_path / "f")
    with pytest.raises(ValueError, match=r"float images must hold values in \[0, 1\]"):
        save_landmark_folder([np.full((9, 9), 2.0)], points[:1], tmp_path / "g")
    save_landmark_folder(images, points, tmp_path / "h")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_landmark_folder(images, points, tmp_path / "h")
    save_landmark_folder(images, points + 1, tmp_path / "h", overwrite=True)
    np.testing.assert_array_equal(load_landmark_folder(tmp_path / "h", crop_size=None).keypoints, points + 1)


def test_dlib_xml_writes_several_faces_of_one_photo_in_one_image(tmp_path):
    photo = _photo(0, (50, 60, 3))
    points = np.round(_keypoints(0, n=2))
    file = save_dlib_xml([photo, photo], points, tmp_path / "f.xml", filenames=["g.png", "g.png"])
    assert file.read_text().count("<image ") == 1
    faces = load_dlib_xml(file, crop_size=None)
    np.testing.assert_array_equal(faces.keypoints, points)
    np.testing.assert_array_equal(faces.face_boxes, np.rint(landmark_boxes(points)))


# ----------------------------------------------------------------- real data


def test_reads_the_shared_lfpw_folder(lfpw_path):
    faces = load_landmark_folder(lfpw_path, crop_size=64)
    assert len(faces.filenames) == 805 and faces.keypoints.shape == (805, 68, 2)
    assert faces.filenames.tolist() == sorted(faces.filenames.tolist())
    assert set(faces.sources) == {"lfpw68_train"}
    for i in range(0, 805, 50):
        lines = (lfpw_path / faces.filenames[i]).with_suffix(".pts").read_text().splitlines()
        values = np.array([line.split() for line in lines[3:71]], dtype=float)
        np.testing.assert_allclose(faces.keypoints[i], values - 1, rtol=0, atol=1e-12)
        assert faces.images[i].ndim == 3 and faces.images[i].shape[-1] == 3
    assert faces.data.shape == (805, 64 * 64)
    # The crops frame the faces: every landmark lands inside its crop.
    assert np.nanmin(faces.target) > -1 and np.nanmax(faces.target) < 64


def test_youtube_training_split_converts_to_both_formats(youtube_path, tmp_path):
    youtube = load_youtube_faces(youtube_path, crop_size=None)
    filenames = youtube.filenames.tolist()  # JPEG: quick to write, and only keypoints are compared
    save_landmark_folder(youtube.images, youtube.keypoints, tmp_path / "pts", filenames=filenames)
    save_dlib_xml(youtube.images, youtube.keypoints, tmp_path / "xml" / "faces.xml", filenames=filenames)
    as_pts = load_landmark_folder(tmp_path / "pts", crop_size=None)
    as_xml = load_dlib_xml(tmp_path / "xml" / "faces.xml", crop_size=None)
    order = np.argsort(filenames)  # the folder loader sorts by name
    np.testing.assert_array_equal(as_pts.keypoints, youtube.keypoints[order])
    np.testing.assert_array_equal(as_xml.keypoints, youtube.keypoints)
    assert as_xml.filenames.tolist() == filenames


def test_dlib_trains_on_skfkd_xml(tmp_path):
    dlib = pytest.importorskip("dlib", reason="dlib is the optional `benchmarks` extra")
    X, y = make_faces(8, layout=IBUG_68, random_state=0, return_X_y=True)
    xml_file = save_dlib_xml(X, y, tmp_path / "train.xml")
    options = dlib.shape_predictor_training_options()
    options.tree_depth, options.num_trees_per_cascade_level, options.cascade_depth = 2, 5, 2
    options.oversampling_amount = 2
    dlib.train_shape_predictor(str(xml_file), str(tmp_path / "model.dat"), options)
    predictor = dlib.shape_predictor(str(tmp_path / "model.dat"))
    faces = load_dlib_xml(xml_file, crop_size=None)
    left, top, width, height = faces.face_boxes[0].astype(int)
    shape = predictor(X[0].reshape(96, 96), dlib.rectangle(left, top, left + width - 1, top + height - 1))
    predicted = np.array([[p.x, p.y] for p in shape.parts()])
    assert predicted.shape == (68, 2)
    # Even a tiny cascade lands near the face it was trained on: within a fifth of the box.
    assert np.linalg.norm(predicted - faces.keypoints[0], axis=1).mean() < 0.2 * width
