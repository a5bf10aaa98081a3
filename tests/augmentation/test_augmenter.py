"""KeypointAugmenter: the numpy and torch paths, validation and the sklearn API."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone

from skfkd import IBUG_68, KAGGLE_15, KeypointLayout
from skfkd.augmentation import KeypointAugmenter
from skfkd.augmentation._augmenter import _torch_generator

OFF = dict(rotation=0, scale=(1, 1), shift=0, flip=0, brightness=0, contrast=0, noise=0, occlusion=0)
GEOMETRY_OFF = dict(rotation=0, scale=(1, 1), shift=0, flip=0)
NO_PAIRS_15 = KeypointLayout("plain", tuple(f"k{i}" for i in range(15)), flip_pairs=(), interocular=(0, 1))
ALL_ON = dict(
    rotation=20, scale=(0.8, 1.2), shift=0.1, flip=0.5, brightness=0.3, contrast=0.3, noise=0.1, occlusion=0.5
)


def _data(n=6, size=24, k=15, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = (rng.random((n, size * size)) * 255).astype(dtype)
    y = rng.uniform(2, size - 3, (n, 2 * k))
    return X, y


def _upright_face_targets(size=96):
    """KAGGLE_15 keypoints of an upright face: the subject's left eye on the image's right."""
    kp = np.full((KAGGLE_15.n_keypoints, 2), np.nan)
    kp[0] = (0.65 * size, 0.4 * size)  # left_eye_center
    kp[1] = (0.35 * size, 0.4 * size)  # right_eye_center
    kp[10] = (0.5 * size, 0.6 * size)  # nose_tip
    return kp.reshape(1, -1)


# ---------------------------------------------------------------- fit_resample


@pytest.mark.parametrize("n_copies", [1, 3])
def test_fit_resample_returns_originals_then_copies(n_copies):
    X, y = _data()
    X_res, y_res = KeypointAugmenter(n_copies=n_copies, random_state=0).fit_resample(X, y)
    assert X_res.shape == (len(X) * (1 + n_copies), X.shape[1])
    assert y_res.shape == (len(y) * (1 + n_copies), y.shape[1])
    np.testing.assert_array_equal(X_res[: len(X)], X)
    np.testing.assert_array_equal(y_res[: len(y)], y)
    # Every copy is a fresh draw.
    copies = X_res[len(X) :].reshape(n_copies, *X.shape)
    assert all(not np.array_equal(copies[i], copies[j]) for i in range(n_copies) for j in range(i))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.uint16])
def test_fit_resample_keeps_dtype_and_shape(dtype):
    X, y = _data(dtype=dtype)
    for shaped in (X, X.reshape(len(X), 24, 24)):
        X_res, _ = KeypointAugmenter(random_state=0).fit_resample(shaped, y)
        assert X_res.dtype == dtype
        assert X_res.shape[1:] == shaped.shape[1:]


def test_uint8_output_is_rounded_and_clipped():
    X, y = _data(dtype=np.uint8)
    X_res, _ = KeypointAugmenter(brightness=3, contrast=1, noise=1, random_state=0).fit_resample(X, y)
    assert X_res.dtype == np.uint8
    assert X_res.min() == 0
    assert X_res.max() == 255


def test_fit_resample_is_reproducible():
    X, y = _data()
    a = KeypointAugmenter(**ALL_ON, random_state=3).fit_resample(X, y)
    b = KeypointAugmenter(**ALL_ON, random_state=3).fit_resample(X, y)
    c = KeypointAugmenter(**ALL_ON, random_state=4).fit_resample(X, y)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_non_square_images_need_image_shape():
    rng = np.random.default_rng(0)
    X, y = rng.random((3, 20 * 30)), rng.uniform(0, 19, (3, 30))
    with pytest.raises(ValueError, match="not a square image"):
        KeypointAugmenter().fit(X, y)
    X_res, _ = KeypointAugmenter(image_shape=(20, 30), random_state=0).fit_resample(X, y)
    assert X_res.shape == (6, 600)
    X_res, _ = KeypointAugmenter(random_state=0).fit_resample(X.reshape(3, 20, 30), y)
    assert X_res.shape == (6, 20, 30)


def test_numpy_and_torch_paths_agree():
    X, y = _data(n=8, size=32)
    aug = KeypointAugmenter(**ALL_ON, random_state=7)
    X_res, y_res = aug.fit_resample(X, y)
    images = torch.from_numpy(X.reshape(8, 1, 32, 32))
    out, kp = aug.augment_batch(images, torch.from_numpy(y).float(), generator=_torch_generator(7))
    np.testing.assert_allclose(X_res[8:], out.reshape(8, -1).numpy(), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(y_res[8:], kp.numpy().astype(float), rtol=1e-5, atol=1e-3)


def test_all_transforms_off_is_the_identity():
    X, y = _data()
    y[0, :4] = np.nan
    X_res, y_res = KeypointAugmenter(**OFF, random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(X_res[len(X) :], X)
    np.testing.assert_array_equal(y_res[len(y) :], y)


def test_nan_keypoints_stay_nan_and_outside_points_stay():
    X, y = _data(n=4)
    y[0, :2] = np.nan  # one unannotated point
    y[1, :] = np.nan  # an unlabelled image
    y[2, 2:4] = (-30.0, 500.0)  # a point far outside the 24 x 24 image
    _, y_res = KeypointAugmenter(**ALL_ON, random_state=0).fit_resample(X, y)
    aug = y_res[4:].reshape(4, -1, 2)
    assert np.isnan(y_res[5]).all()
    # The NaN point of row 0 is wherever the flip permutation took it; it is the only one.
    assert np.isnan(aug[0]).any(axis=1).sum() == 1
    assert np.isnan(aug[0]).all(axis=1).sum() == 1
    assert np.isfinite(aug[2]).all()
    assert (np.abs(aug[2]) > 100).any()  # not clipped to the image


def test_flip_mirrors_outside_points_and_swaps_labels():
    X, y = _data(n=2)
    y[0, 2:4] = (-30.0, 500.0)  # right_eye_center of sample 0, outside the image
    aug = KeypointAugmenter(**{**OFF, "flip": 1.0}, random_state=0)
    X_res, y_res = aug.fit_resample(X, y)
    np.testing.assert_allclose(X_res[2:].reshape(2, 24, 24), X.reshape(2, 24, 24)[:, :, ::-1], atol=1e-3)
    kp, flipped = y.reshape(2, 15, 2), y_res[2:].reshape(2, 15, 2)
    mirrored = np.column_stack([23 - kp[0, :, 0], kp[0, :, 1]])
    np.testing.assert_allclose(flipped[0], mirrored[KAGGLE_15.flip_permutation])
    np.testing.assert_allclose(flipped[0, 0], (53.0, 500.0))  # now labelled left_eye_center


def test_flip_keeps_the_subject_left_eye_label():
    """After a flip the left eye is still on the image's right-hand side of an upright face."""
    X = np.zeros((1, 96 * 96), dtype=np.float32)
    y = _upright_face_targets()
    assert y[0, 0] > y[0, 2]  # left_eye_center.x > right_eye_center.x before
    _, y_res = KeypointAugmenter(**{**OFF, "flip": 1.0}, random_state=0).fit_resample(X, y)
    assert y_res[1, 0] > y_res[1, 2]
    np.testing.assert_allclose(y_res[1, [0, 2]], 95 - y[0, [2, 0]])
    np.testing.assert_allclose(y_res[1, 20:22], (95 - y[0, 20], y[0, 21]))  # the nose stays the nose


# ---------------------------------------------------------------- photometric scale independence


@settings(max_examples=15)
@given(a=st.floats(0.01, 300), b=st.floats(-100, 100), seed=st.integers(0, 1000))
def test_augmentation_commutes_with_pixel_scaling(a, b, seed):
    """Augmenting a * X + b gives a * augment(X) + b: pixel scale does not matter."""
    X, y = _data(n=4, size=16, seed=seed)
    X = X / 255
    aug = KeypointAugmenter(**ALL_ON, random_state=seed)
    X_res, y_res = aug.fit_resample(X, y)
    X_res2, y_res2 = aug.fit_resample(a * X + b, y)
    np.testing.assert_allclose(X_res2, a * X_res + b, rtol=1e-4, atol=1e-4 * (a + abs(b)))
    np.testing.assert_array_equal(y_res2, y_res)


def test_photometric_amounts_are_relative_to_the_image_spread():
    rng = np.random.default_rng(0)
    X = rng.normal(100, 10, (200, 16 * 16))  # std 10 around 100
    y = np.full((200, 30), 8.0)
    aug = KeypointAugmenter(**{**GEOMETRY_OFF, "brightness": 0.5, "contrast": 0, "noise": 0}, random_state=0)
    X_res, _ = aug.fit_resample(X, y)
    # Brightness shifts each image by up to 0.5 of its own standard deviation.
    shift = (X_res[200:].mean(axis=1) - X.mean(axis=1)) / X.std(axis=1)
    assert np.abs(shift).max() <= 0.5 + 1e-6
    assert np.abs(shift).max() > 0.45
    aug.set_params(brightness=0, contrast=0.5)
    X_res, _ = aug.fit_resample(X, y)
    ratio = X_res[200:].std(axis=1) / X.std(axis=1)
    assert ratio.min() >= 0.5 - 1e-6
    assert ratio.max() <= 1.5 + 1e-6
    assert np.ptp(ratio) > 0.5
    aug.set_params(contrast=0, noise=0.5)
    X_res, _ = aug.fit_resample(X, y)
    np.testing.assert_allclose((X_res[200:] - X).std(), 0.5 * 10, rtol=0.05)


def test_occlusion_paints_a_patch_within_the_image_range():
    X, y = _data(n=50)
    X_res, _ = KeypointAugmenter(**{**OFF, "occlusion": 1.0}, random_state=0).fit_resample(X, y)
    changed = X_res[50:] != X
    assert changed.any(axis=1).mean() > 0.8  # a patch can fall mostly off the image, not all
    for row, orig, mask in zip(X_res[50:], X, changed, strict=True):
        if mask.any():
            assert np.unique(row[mask]).size == 1
            assert orig.min() <= row[mask][0] <= orig.max()


# ---------------------------------------------------------------- augment_batch (the torch path)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_augment_batch_keeps_shape_dtype_and_device(dtype):
    images = torch.rand(5, 3, 20, 20).to(dtype)
    targets = (torch.rand(5, 30) * 19).to(dtype)
    out, kp = KeypointAugmenter(**ALL_ON).augment_batch(
        images, targets, generator=torch.Generator().manual_seed(0)
    )
    assert out.shape == images.shape
    assert out.dtype == dtype
    assert out.device == images.device
    assert kp.shape == targets.shape
    assert kp.dtype == dtype
    assert not torch.equal(out, images)


def test_augment_batch_keeps_channels_last():
    images = torch.rand(4, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    out, _ = KeypointAugmenter().augment_batch(images, torch.rand(4, 30) * 15)
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_augment_batch_is_reproducible_with_a_generator():
    images, targets = torch.rand(6, 1, 24, 24), torch.rand(6, 136) * 23
    aug = KeypointAugmenter(**ALL_ON)
    a = aug.augment_batch(images, targets, generator=torch.Generator().manual_seed(1))
    b = aug.augment_batch(images, targets, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    # The same augmenter draws afresh on each call with a running generator (or the global one).
    g = torch.Generator().manual_seed(1)
    aug.augment_batch(images, targets, generator=g)
    c = aug.augment_batch(images, targets, generator=g)
    assert not torch.equal(a[0], c[0])
    aug.augment_batch(images, targets)


def test_switching_one_transform_off_keeps_the_others_draws():
    images, targets = torch.rand(6, 1, 24, 24), torch.rand(6, 30) * 23
    with_noise = KeypointAugmenter(**{**OFF, "flip": 0.5, "noise": 0.3})
    without = KeypointAugmenter(**{**OFF, "flip": 0.5})
    _, kp1 = with_noise.augment_batch(images, targets, generator=torch.Generator().manual_seed(2))
    _, kp2 = without.augment_batch(images, targets, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(kp1, kp2)


def test_augment_batch_on_an_empty_batch():
    out, kp = KeypointAugmenter().augment_batch(torch.zeros(0, 1, 8, 8), torch.zeros(0, 30))
    assert out.shape == (0, 1, 8, 8)
    assert kp.shape == (0, 30)


@pytest.mark.parametrize(
    ("images", "targets", "kwargs", "match"),
    [
        (torch.zeros(2, 8, 8), torch.zeros(2, 30), {}, "images must be a floating torch tensor"),
        (torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.zeros(2, 30), {}, "images must be a floating"),
        (np.zeros((2, 1, 8, 8)), torch.zeros(2, 30), {}, "images must be a floating"),
        (torch.zeros(2, 1, 8, 8), torch.zeros(2, 30, 1), {}, "targets must be a floating"),
        (torch.zeros(2, 1, 8, 8), torch.zeros(3, 30), {}, "different numbers of samples"),
        (torch.zeros(2, 1, 8, 8), torch.zeros(2, 31), {}, "even number of columns"),
        (torch.zeros(2, 1, 8, 8), torch.zeros(2, 32), {}, "no built-in layout has 16 keypoints"),
        (torch.zeros(2, 1, 8, 8), torch.zeros(2, 30), {"layout": IBUG_68}, "has 68 keypoints"),
        (torch.zeros(2, 1, 8, 8), torch.zeros(2, 30), {"rotation": -1}, "'rotation' parameter"),
    ],
)
def test_augment_batch_rejects_bad_input(images, targets, kwargs, match):
    with pytest.raises(ValueError, match=match):
        KeypointAugmenter(**kwargs).augment_batch(images, targets)


def test_augment_batch_wants_a_cpu_generator():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device for a non-CPU generator")
    with pytest.raises(ValueError, match="CPU torch.Generator"):
        KeypointAugmenter().augment_batch(
            torch.zeros(2, 1, 8, 8), torch.zeros(2, 30), generator=torch.Generator(device="cuda")
        )


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"rotation": 181},
            r"'rotation' parameter of KeypointAugmenter must be a float in the range \[0.0, 180.0\]",
        ),
        ({"rotation": -5}, "'rotation' parameter"),
        ({"rotation": "15"}, "'rotation' parameter"),
        ({"flip": 1.5}, r"'flip' parameter of KeypointAugmenter must be a float in the range \[0.0, 1.0\]"),
        ({"flip": -0.1}, "'flip' parameter"),
        ({"occlusion": 2}, "'occlusion' parameter"),
        ({"contrast": 1.5}, "'contrast' parameter"),
        ({"contrast": -0.1}, "'contrast' parameter"),
        ({"brightness": -0.1}, "'brightness' parameter"),
        ({"noise": -1}, "'noise' parameter"),
        ({"shift": 1.0}, r"'shift' parameter of KeypointAugmenter must be a float in the range \[0.0, 1.0\)"),
        ({"shift": -0.1}, "'shift' parameter"),
        ({"scale": (1.2, 0.8)}, "0 < low <= high"),
        ({"scale": (0, 1)}, "0 < low <= high"),
        ({"scale": 1.1}, "'scale' parameter of KeypointAugmenter must be an instance of 'tuple'"),
        ({"scale": (0.9, 1.0, 1.1)}, "scale must be a pair"),
        ({"padding_mode": "wrap"}, "'padding_mode' parameter of KeypointAugmenter must be a str among"),
        (
            {"n_copies": 0},
            r"'n_copies' parameter of KeypointAugmenter must be an int in the range \[1, inf\)",
        ),
        ({"n_copies": 1.5}, "'n_copies' parameter"),
        ({"layout": "kaggle"}, "'layout' parameter of KeypointAugmenter must be an instance of"),
        ({"layout": NO_PAIRS_15}, "has no flip pairs"),
    ],
)
def test_bad_parameters_raise_at_fit_time(params, match):
    X, y = _data()
    aug = KeypointAugmenter(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        aug.fit(X, y)
    with pytest.raises(ValueError, match=match):
        aug.fit_resample(X, y)


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.zeros((3, 64)), np.zeros((4, 30)), "different numbers of samples"),
        (np.zeros((3, 64)), np.zeros((3, 29)), "even number of columns"),
        (np.zeros((3, 64)), np.zeros(3), "y must be 2-D"),
        (np.zeros((3, 60)), np.zeros((3, 30)), "not a square image"),
        (np.zeros(64), np.zeros((1, 30)), "X must be"),
        (np.zeros((3, 8, 8, 1)), np.zeros((3, 30)), "X must be"),
        (np.full((3, 64), np.nan), np.zeros((3, 30)), "NaN or infinity"),
        (np.array([["a"] * 64] * 3), np.zeros((3, 30)), "X must hold numbers"),
        (np.zeros((3, 64)), np.zeros((3, 30 * 2)), "no built-in layout"),
    ],
)
def test_bad_data_raises(X, y, match):
    with pytest.raises(ValueError, match=match):
        KeypointAugmenter().fit_resample(X, y)


def test_image_shape_must_match():
    X, y = _data()
    with pytest.raises(ValueError, match="holds 400 pixels but X has 576 columns"):
        KeypointAugmenter(image_shape=(20, 20)).fit(X, y)
    with pytest.raises(ValueError, match="images but image_shape"):
        KeypointAugmenter(image_shape=(12, 48)).fit(X.reshape(-1, 24, 24), y)
    with pytest.raises(
        ValueError, match="'image_shape' parameter of KeypointAugmenter must be an instance of 'tuple'"
    ):
        KeypointAugmenter(image_shape=24).fit(X.reshape(-1, 24, 24), y)


def test_fit_validates_and_resolves_the_layout():
    X, y = _data()
    aug = KeypointAugmenter().fit(X, y)
    assert aug.layout_ is KAGGLE_15
    assert aug.image_shape_ == (24, 24)
    assert aug.n_features_in_ == 576
    assert KeypointAugmenter().fit(X, np.zeros((6, 136))).layout_ is IBUG_68


# ---------------------------------------------------------------- the sklearn API


class _Wrapper(BaseEstimator):
    """A stand-in for the regressor: a meta-estimator holding an augmenter."""

    def __init__(self, augmentation=None):
        self.augmentation = augmentation


def test_get_set_params_and_clone():
    aug = KeypointAugmenter(rotation=5, layout=KAGGLE_15, random_state=0)
    params = aug.get_params()
    assert params["rotation"] == 5
    assert params["scale"] == (0.9, 1.1)
    assert params["layout"] is KAGGLE_15
    copy = clone(aug)
    assert copy is not aug
    assert copy.get_params()["rotation"] == 5
    assert aug.set_params(rotation=30, flip=0) is aug
    assert aug.rotation == 30
    assert "rotation=30" in repr(aug)


def test_nested_set_params_like_grid_search():
    model = _Wrapper(augmentation=KeypointAugmenter())
    assert "augmentation__rotation" in model.get_params()
    for rotation in (0, 10, 25):
        candidate = clone(model).set_params(augmentation__rotation=rotation)
        assert candidate.augmentation.rotation == rotation
    assert model.augmentation.rotation == 15  # clones leave the original alone


def test_defaults_are_documented_face_augmentations():
    params = KeypointAugmenter().get_params()
    assert params == {
        "rotation": 15.0,
        "scale": (0.9, 1.1),
        "shift": 0.05,
        "flip": 0.5,
        "brightness": 0.2,
        "contrast": 0.2,
        "noise": 0.05,
        "occlusion": 0.0,
        "padding_mode": "border",
        "layout": None,
        "image_shape": None,
        "n_copies": 1,
        "random_state": None,
    }


def test_in_an_imbalanced_learn_pipeline_it_augments_training_data_only():
    from imblearn.pipeline import Pipeline as SamplerPipeline
    from sklearn.pipeline import Pipeline

    from skfkd.baselines import MeanKeypointRegressor

    X, y = _data()
    seen = []

    class Recorder(MeanKeypointRegressor):
        def fit(self, X, y, sample_weight=None):
            seen.append(len(X))
            return super().fit(X, y, sample_weight=sample_weight)

    pipeline = SamplerPipeline(
        [("augment", KeypointAugmenter(n_copies=2, random_state=0)), ("model", Recorder())]
    )
    assert pipeline.fit(X, y).predict(X).shape == y.shape
    assert seen == [3 * len(X)]  # the originals and two augmented copies of each
    with pytest.raises(TypeError, match="All intermediate steps should be transformers"):
        Pipeline([("augment", KeypointAugmenter()), ("model", MeanKeypointRegressor())]).fit(X, y)
