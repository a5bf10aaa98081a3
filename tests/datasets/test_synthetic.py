import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from skfkd import IBUG_68, KAGGLE_15, KeypointLayout, to_targets
from skfkd.datasets import _synthetic, make_faces

# KAGGLE_15 points 2-14 are iBUG landmarks; 0 and 1 are the pupils, which iBUG lacks.
KAGGLE_IN_IBUG = [42, 45, 39, 36, 22, 26, 21, 17, 30, 54, 48, 51, 57]


def pixels_at(images, points):
    """Gray level of the pixel under each point: ``points`` is (n, m, 2), the result (n, m)."""
    index = np.rint(points).astype(int)
    return images[np.arange(len(images))[:, None], index[..., 1], index[..., 0]].astype(int)


def assert_increasing(*columns):
    """Each column ``(n,)`` is below the next one, in every face."""
    for a, b in zip(columns[:-1], columns[1:], strict=True):
        assert (a < b).all()


def assert_upright_face(kp, layout):
    """Keypoints ``(n, k, 2)`` of faces without in-plane rotation are in canonical order."""
    x, y = kp[..., 0], kp[..., 1]
    if layout is KAGGLE_15:
        # Across the image: the subject's right eye (outer corner, pupil, inner corner),
        # then the left eye (inner corner, pupil, outer corner); likewise brows and mouth.
        assert_increasing(x[:, 5], x[:, 1], x[:, 4], x[:, 2], x[:, 0], x[:, 3])
        assert_increasing(x[:, 9], x[:, 8], x[:, 6], x[:, 7])
        assert_increasing(x[:, 12], x[:, 11])
        # Down the image: brows, eyes, nose tip, top lip, bottom lip.
        brows, eyes, nose, top_lip, bottom_lip = y[:, 6:10], y[:, 0:6], y[:, 10], y[:, 13], y[:, 14]
    else:
        assert_increasing(x[:, 36], x[:, 39], x[:, 42], x[:, 45])
        assert_increasing(*x[:, 17:27].T)  # brows, 17-21 on the image's left
        assert_increasing(x[:, 48], x[:, 54])
        # The jaw runs down the image's left side to the chin and up the right side.
        assert_increasing(*x[:, 1:16].T)
        assert_increasing(*y[:, 0:9].T)
        assert_increasing(*y[:, 16:7:-1].T)
        brows, eyes, nose, top_lip, bottom_lip = y[:, 17:27], y[:, 36:48], y[:, 30], y[:, 51], y[:, 57]
    assert_increasing(brows.max(axis=1), eyes.min(axis=1), nose, top_lip, bottom_lip)


@pytest.mark.parametrize("layout", [KAGGLE_15, IBUG_68])
def test_shapes_and_dtypes(layout):
    faces = make_faces(5, image_size=40, layout=layout, random_state=0)
    k = layout.n_keypoints
    assert faces.data.shape == (5, 1600)
    assert faces.data.dtype == np.uint8
    assert faces.images.shape == (5, 40, 40)
    assert faces.images.dtype == np.uint8
    np.testing.assert_array_equal(faces.data, faces.images.reshape(5, -1))
    assert faces.target.shape == (5, 2 * k)
    assert faces.target.dtype == np.float64
    assert faces.keypoints.shape == (5, k, 2)
    assert faces.keypoints.dtype == np.float64
    np.testing.assert_array_equal(faces.target, to_targets(faces.keypoints))
    assert faces.target_names == layout.target_names
    assert faces.layout is layout
    assert layout.name in faces.DESCR
    assert "exactly" in faces.DESCR
    # Real images, not blank canvases.
    assert (faces.images.std(axis=(1, 2)) > 10).all()


def test_return_X_y():
    faces = make_faces(4, random_state=1)
    X, y = make_faces(4, random_state=1, return_X_y=True)
    np.testing.assert_array_equal(X, faces.data)
    np.testing.assert_array_equal(y, faces.target)


def test_deterministic_under_random_state():
    a, b = make_faces(6, random_state=7), make_faces(6, random_state=7)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.target, b.target)
    c = make_faces(6, random_state=8)
    assert not np.array_equal(a.images, c.images)
    assert not np.allclose(a.target, c.target)
    # Generator objects seed the same way every time they are freshly made.
    for make_rng in (np.random.RandomState, np.random.default_rng):
        d, e = make_faces(3, random_state=make_rng(5)), make_faces(3, random_state=make_rng(5))
        np.testing.assert_array_equal(d.images, e.images)
        np.testing.assert_array_equal(d.target, e.target)


def test_faces_differ_within_a_call():
    faces = make_faces(4, random_state=0)
    assert len({img.tobytes() for img in faces.images}) == 4


def test_face_does_not_depend_on_n_samples_or_chunking(monkeypatch):
    many = make_faces(10, random_state=3)
    few = make_faces(4, random_state=3)
    np.testing.assert_array_equal(few.images, many.images[:4])
    np.testing.assert_array_equal(few.target, many.target[:4])
    monkeypatch.setattr(_synthetic, "_CHUNK", 3)
    chunked = make_faces(10, random_state=3)
    np.testing.assert_array_equal(chunked.images, many.images)
    np.testing.assert_array_equal(chunked.target, many.target)


def test_layouts_draw_the_same_faces():
    kaggle = make_faces(20, layout=KAGGLE_15, random_state=4)
    ibug = make_faces(20, layout=IBUG_68, random_state=4)
    np.testing.assert_array_equal(kaggle.images, ibug.images)
    np.testing.assert_array_equal(kaggle.keypoints[:, 2:], ibug.keypoints[:, KAGGLE_IN_IBUG])


def test_pupils_are_dark():
    faces = make_faces(300, noise=0.0, occlusion=0.0, random_state=0)
    kp = faces.keypoints
    pupils = pixels_at(faces.images, kp[:, :2])
    # Between the inner eye corners: skin, or the nose's shaded top.
    between_eyes = pixels_at(faces.images, (kp[:, [2]] + kp[:, [4]]) / 2)
    assert (pupils < between_eyes - 25).all()


def test_pupils_lie_inside_their_eyes():
    kp = make_faces(200, rotation=0.0, random_state=1).keypoints
    x = kp[..., 0]
    assert ((x[:, 2] < x[:, 0]) & (x[:, 0] < x[:, 3])).all()
    assert ((x[:, 5] < x[:, 1]) & (x[:, 1] < x[:, 4])).all()


def test_brows_are_drawn_along_their_points():
    faces = make_faces(300, layout=IBUG_68, noise=0.0, occlusion=0.0, random_state=0)
    kp = faces.keypoints
    brows = pixels_at(faces.images, kp[:, 17:27])
    between_eyes = pixels_at(faces.images, (kp[:, [39]] + kp[:, [42]]) / 2)
    # The brows taper to a pixel or less at their outer ends, so not every point lands
    # on a brow pixel, but nearly all do.
    assert (brows < between_eyes).mean() > 0.85


@pytest.mark.parametrize("layout", [KAGGLE_15, IBUG_68])
def test_upright_faces_and_their_mirror_images_are_in_canonical_order(layout):
    size = 96
    kp = make_faces(300, image_size=size, layout=layout, rotation=0.0, random_state=2).keypoints
    assert_upright_face(kp, layout)
    # Mirroring the image maps x to size - 1 - x; swapping the subject's left and right
    # labels must give a face in canonical order again.
    mirrored = kp.copy()
    mirrored[..., 0] = size - 1 - mirrored[..., 0]
    assert_upright_face(mirrored[:, layout.flip_permutation], layout)
    with pytest.raises(AssertionError):
        assert_upright_face(mirrored, layout)  # the check does see left and right


@pytest.mark.parametrize("layout", [KAGGLE_15, IBUG_68])
@pytest.mark.parametrize("image_size", [32, 57, 96])
def test_keypoints_inside_the_image_at_extreme_poses(layout, image_size):
    kp = make_faces(
        300, image_size=image_size, layout=layout, rotation=180.0, yaw=45.0, random_state=3
    ).keypoints
    assert np.isfinite(kp).all()
    assert kp.min() >= 0
    assert kp.max() <= image_size - 1
    if layout is IBUG_68:
        # The jaw of some extreme poses comes close to the border: the bound is not slack.
        assert kp.min() < 0.1 * image_size
        assert kp.max() > 0.9 * (image_size - 1)


def test_missing_rate():
    full = make_faces(400, random_state=5)
    assert not np.isnan(full.target).any()
    partial = make_faces(400, missing_rate=0.3, random_state=5)
    missing = np.isnan(partial.keypoints)
    np.testing.assert_array_equal(missing[..., 0], missing[..., 1])  # x and y go together
    assert abs(missing[..., 0].mean() - 0.3) < 0.02  # 6000 keypoints: sd of the rate is 0.006
    # Different keypoints go missing in different faces.
    assert 0 < missing[..., 0].mean(axis=0).min()
    assert missing[..., 0].mean(axis=0).max() < 0.5
    # Images and the annotated values are untouched.
    np.testing.assert_array_equal(partial.images, full.images)
    np.testing.assert_array_equal(
        partial.target[~np.isnan(partial.target)], full.target[~np.isnan(partial.target)]
    )
    assert np.isnan(make_faces(3, missing_rate=1.0, random_state=5).target).all()


def test_faces_vary():
    kp = make_faces(500, random_state=6).keypoints
    assert (kp.std(axis=0) > 2.5).all()  # pixels, on a 96-pixel image, per coordinate
    mean_shape_rmse = np.sqrt(((kp - kp.mean(axis=0)) ** 2).mean())
    assert mean_shape_rmse > 3.5
    # Faces vary in size too, not only in position: the inter-ocular distance spreads.
    interocular = np.linalg.norm(kp[:, 0] - kp[:, 1], axis=-1)
    assert interocular.std() / interocular.mean() > 0.05


def test_pixels_predict_keypoints_better_than_the_mean_shape():
    X, y = make_faces(1000, image_size=40, random_state=0, return_X_y=True)
    X = X / 255.0
    train, test = slice(0, 800), slice(800, None)
    mean_rmse = np.sqrt(((y[test] - y[train].mean(axis=0)) ** 2).mean())
    # Even a linear model of the raw pixels beats the mean shape clearly (by 23-27% over
    # seeds 0-3); a convolutional network does far better.
    model = Ridge(alpha=10.0).fit(X[train], y[train])
    model_rmse = np.sqrt(((y[test] - model.predict(X[test])) ** 2).mean())
    assert model_rmse < 0.85 * mean_rmse


def test_occlusion_changes_some_faces_only():
    clear = make_faces(200, occlusion=0.0, random_state=9)
    occluded = make_faces(200, occlusion=0.5, random_state=9)
    np.testing.assert_array_equal(clear.target, occluded.target)
    changed = (clear.images != occluded.images).any(axis=(1, 2)).mean()
    assert 0.35 < changed < 0.65


def test_noise_changes_pixels_not_keypoints():
    clean = make_faces(5, noise=0.0, random_state=2)
    noisy = make_faces(5, noise=30.0, random_state=2)
    np.testing.assert_array_equal(clean.target, noisy.target)
    difference = noisy.images.astype(float) - clean.images
    assert 5 < difference.std() < 30


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples must be an integer >= 1"),
        ({"n_samples": 2.5}, "n_samples must be an integer"),
        ({"image_size": 31}, "image_size must be an integer >= 32"),
        ({"missing_rate": -0.1}, r"missing_rate must be a number in \[0, 1\]"),
        ({"missing_rate": 1.5}, r"missing_rate must be a number in \[0, 1\]"),
        ({"rotation": 200}, r"rotation must be a number in \[0, 180\]"),
        ({"yaw": -1}, r"yaw must be a number in \[0, 45\]"),
        ({"occlusion": 2}, r"occlusion must be a number in \[0, 1\]"),
        ({"noise": -1}, "noise must be a number"),
        ({"layout": "kaggle_15"}, "make_faces draws only the kaggle_15 and ibug_68 layouts"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_faces(**{"n_samples": 2, **kwargs})


def test_unknown_layout():
    five = KeypointLayout("five", ("a", "b", "c", "d", "e"), flip_pairs=((0, 1),), interocular=(0, 1))
    with pytest.raises(
        ValueError, match=r"only the kaggle_15 and ibug_68 layouts.*got KeypointLayout\('five'"
    ):
        make_faces(2, layout=five)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    image_size=st.integers(32, 128),
    rotation=st.floats(0, 180),
    yaw=st.floats(0, 45),
)
def test_any_face_is_inside_the_image_with_dark_pupils(seed, image_size, rotation, yaw):
    faces = make_faces(
        3, image_size=image_size, rotation=rotation, yaw=yaw, noise=0.0, occlusion=0.0, random_state=seed
    )
    kp = faces.keypoints
    assert np.isfinite(kp).all()
    assert kp.min() >= 0
    assert kp.max() <= image_size - 1
    pupils = pixels_at(faces.images, kp[:, :2])
    between_eyes = pixels_at(faces.images, (kp[:, [2]] + kp[:, [4]]) / 2)
    assert (pupils < between_eyes - 25).all()
