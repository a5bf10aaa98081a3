"""Behaviour of ImageScaler and HistogramEqualizer."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from skfkd.preprocessing import HistogramEqualizer, ImageScaler

rng = np.random.default_rng(0)
IMAGES_U8 = rng.integers(0, 256, size=(5, 12, 12), dtype=np.uint8)


# ---------------------------------------------------------------- ImageScaler


@pytest.mark.parametrize(
    ("X", "expected"),
    [
        (IMAGES_U8, 255.0),
        (IMAGES_U8.astype(np.float64), 255.0),  # floats in 0-255 count as 8-bit
        (IMAGES_U8 / 255.0, 1.0),  # already in [0, 1]: left alone
        (IMAGES_U8 / 510.0, 1.0),  # a dark batch is not brightened
        (IMAGES_U8.astype(np.uint16) * 257, 65535.0),
        (np.full((2, 4), 1e5), 1e5),
    ],
)
def test_unit_max_value_auto(X, expected):
    scaler = ImageScaler().fit(X)
    assert scaler.max_value_ == expected
    np.testing.assert_allclose(scaler.transform(X), X / expected, rtol=1e-6)


def test_unit_with_a_fixed_max_value():
    X = np.array([[0.0, 50.0, 100.0, 200.0]])
    np.testing.assert_allclose(ImageScaler(max_value=100).fit_transform(X), [[0, 0.5, 1, 2]])


@given(a=st.floats(1e-3, 1e3), b=st.floats(-1e3, 1e3))
def test_standardize_gives_zero_mean_unit_variance_whatever_the_scale(a, b):
    X = IMAGES_U8.reshape(5, -1).astype(np.float64)
    Z = ImageScaler(method="standardize").fit_transform(a * X + b)
    np.testing.assert_allclose(Z.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=1), 1, rtol=1e-4)
    np.testing.assert_allclose(Z, ImageScaler(method="standardize").fit_transform(X), atol=1e-3)


@pytest.mark.parametrize("value", [0.0, 0.1, 200.0, -3.7, 1e6])
def test_standardize_maps_constant_images_to_zeros(value):
    X = np.vstack([np.full(16, value), np.arange(16.0)]).astype(np.float32)
    Z = ImageScaler(method="standardize").fit_transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[0], 0)


@pytest.mark.parametrize(
    "estimator", [ImageScaler(), ImageScaler(method="standardize"), HistogramEqualizer()]
)
def test_shape_is_kept_and_output_is_float32(estimator):
    stack = IMAGES_U8
    rows = stack.reshape(5, -1)
    out_stack = estimator.fit(stack).transform(stack)
    assert out_stack.shape == stack.shape
    assert out_stack.dtype == np.float32
    out_rows = estimator.fit(rows).transform(rows)
    assert out_rows.shape == rows.shape
    assert out_rows.dtype == np.float32
    np.testing.assert_allclose(out_rows.reshape(stack.shape), out_stack, atol=1e-6)
    # Fitted on rows, a stack of the same images transforms alike (and the other way).
    np.testing.assert_allclose(estimator.fit(rows).transform(stack), out_stack, atol=1e-6)
    assert estimator.n_features_in_ == 144


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"method": "minmax"}, "'method' parameter of ImageScaler must be a str among"),
        (
            {"max_value": 0},
            r"'max_value' parameter of ImageScaler must be a str among \{'auto'\} or a float in the range \(0.0, inf\)",
        ),
        ({"max_value": "max"}, "'max_value' parameter"),
        ({"max_value": np.inf}, "'max_value' parameter"),
    ],
)
def test_image_scaler_rejects_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        ImageScaler(**params).fit(IMAGES_U8)


def test_transform_before_fit_raises():
    with pytest.raises(NotFittedError):
        ImageScaler().transform(IMAGES_U8)
    with pytest.raises(NotFittedError):
        HistogramEqualizer().transform(IMAGES_U8)


def test_in_a_pipeline_before_pca_and_ridge():
    X = rng.integers(0, 256, size=(40, 64)).astype(np.uint8)
    y = rng.normal(size=(40, 30))
    for first in (ImageScaler(), ImageScaler(method="standardize"), HistogramEqualizer()):
        model = make_pipeline(first, PCA(n_components=5), Ridge()).fit(X, y)
        assert model.predict(X).shape == (40, 30)


# ---------------------------------------------------------------- HistogramEqualizer


def test_equalizer_stretches_a_dim_image():
    X = rng.integers(40, 80, size=(3, 32, 32)).astype(np.uint8)
    out = HistogramEqualizer().fit_transform(X)
    for image in out:
        assert image.min() == 0.0
        assert image.max() == 1.0
    assert out.std() > (X / 255).std()


def test_equalizer_does_not_care_about_the_pixel_scale():
    X = IMAGES_U8.astype(np.float64)
    expected = HistogramEqualizer().fit_transform(X)
    for scaled in (X / 255, (X - X.mean()) / X.std()):
        np.testing.assert_allclose(HistogramEqualizer().fit_transform(scaled), expected, atol=1e-3)


def test_equalizer_maps_constant_images_to_mid_grey():
    X = np.vstack([np.full(16, 7.0), np.arange(16.0)])
    out = HistogramEqualizer().fit_transform(X)
    np.testing.assert_array_equal(out[0], 0.5)


def test_equalizer_parameters_change_the_result():
    X = rng.normal(size=(2, 32, 32)).cumsum(axis=2)  # smooth-ish structure
    base = HistogramEqualizer().fit_transform(X)
    assert not np.allclose(HistogramEqualizer(clip_limit=0.5).fit_transform(X), base)
    assert not np.allclose(HistogramEqualizer(kernel_size=16).fit_transform(X), base)
    np.testing.assert_allclose(
        HistogramEqualizer(kernel_size=16).fit_transform(X),
        HistogramEqualizer(kernel_size=(16, 16)).fit_transform(X),
    )


def test_equalizer_non_square_images():
    X = rng.random((2, 6 * 10))
    with pytest.warns(UserWarning, match="not a square image"):
        strip = HistogramEqualizer().fit(X)
    assert strip.image_shape_ == (1, 60)
    shaped = HistogramEqualizer(image_shape=(6, 10)).fit(X)
    assert shaped.image_shape_ == (6, 10)
    np.testing.assert_allclose(
        shaped.transform(X).reshape(2, 6, 10), HistogramEqualizer().fit_transform(X.reshape(2, 6, 10))
    )


@pytest.mark.parametrize(
    ("params", "X", "match"),
    [
        (
            {"clip_limit": 1.5},
            IMAGES_U8,
            r"'clip_limit' parameter of HistogramEqualizer must be a float in the range \[0.0, 1.0\]",
        ),
        ({"clip_limit": -0.1}, IMAGES_U8, "'clip_limit' parameter"),
        ({"kernel_size": 0}, IMAGES_U8, "kernel_size must be None, a positive int or a pair"),
        ({"kernel_size": (4, 4, 4)}, IMAGES_U8, "kernel_size must be"),
        ({"kernel_size": "big"}, IMAGES_U8, "'kernel_size' parameter of HistogramEqualizer must be"),
        ({"image_shape": (10, 10)}, IMAGES_U8.reshape(5, -1), "holds 100 pixels but X has 144 columns"),
        ({"image_shape": (16, 9)}, IMAGES_U8, r"X holds \(12, 12\) images but image_shape=\(16, 9\)"),
        ({"image_shape": (12,)}, IMAGES_U8, "image_shape must be a pair"),
        ({"image_shape": (0, 12)}, IMAGES_U8, "image_shape must hold two positive integers"),
    ],
)
def test_equalizer_rejects_bad_input(params, X, match):
    with pytest.raises(ValueError, match=match):
        HistogramEqualizer(**params).fit(X)


def test_equalizer_transform_checks_the_image_shape():
    equalizer = HistogramEqualizer().fit(IMAGES_U8)
    with pytest.raises(ValueError, match="X has 64 features"):
        equalizer.transform(np.zeros((2, 64)))
    with pytest.raises(ValueError, match=r"X holds \(9, 16\) images but was fitted on \(12, 12\)"):
        equalizer.transform(np.zeros((2, 9, 16)))
