"""HOGFeatures; also covers by hand what sklearn's checks cannot, as their data are not images."""

import pickle

import numpy as np
import pytest
from skimage.feature import hog
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skfkd.baselines import HOGFeatures


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 24, 32)).astype(np.uint8)


def _skimage_hog(images, **params):
    return np.stack([hog(image.astype(float), **params) for image in images])


def test_matches_skimage_per_image(images):
    params = dict(orientations=6, pixels_per_cell=(4, 4), cells_per_block=(2, 2))
    model = HOGFeatures(**params).fit(images)
    np.testing.assert_allclose(model.transform(images), _skimage_hog(images, **params))
    assert model.image_shape_ == (24, 32)
    assert model.n_features_in_ == 24 * 32


def test_flat_and_stacked_images_agree(images):
    flat = images.reshape(5, -1)
    from_stack = HOGFeatures(image_shape=(24, 32)).fit(images)
    from_rows = HOGFeatures(image_shape=(24, 32)).fit(flat)
    np.testing.assert_array_equal(from_stack.transform(flat), from_rows.transform(images))


def test_square_images_need_no_shape():
    square = np.random.default_rng(1).random((3, 16 * 16))
    model = HOGFeatures().fit(square)
    assert model.image_shape_ == (16, 16)
    np.testing.assert_allclose(
        model.transform(square), _skimage_hog(square.reshape(3, 16, 16), cells_per_block=(2, 2))
    )


def test_unknown_or_inconsistent_shapes_are_refused(images):
    flat = images.reshape(5, -1)
    with pytest.raises(ValueError, match="768 columns, which is not a square image; pass image_shape"):
        HOGFeatures().fit(flat)
    with pytest.raises(ValueError, match=r"image_shape=\(20, 20\) holds 400 pixels but X has 768 columns"):
        HOGFeatures(image_shape=(20, 20)).fit(flat)
    with pytest.raises(ValueError, match=r"X holds \(24, 32\) images but image_shape=\(32, 24\)"):
        HOGFeatures(image_shape=(32, 24)).fit(images)


def test_transform_refuses_another_image_size(images):
    model = HOGFeatures().fit(images)
    with pytest.raises(ValueError, match="images are 32x24 but HOGFeatures was fit on 24x32 images"):
        model.transform(images.transpose(0, 2, 1))
    with pytest.raises(ValueError, match="X has 256 features, but HOGFeatures is expecting 768"):
        model.transform(np.zeros((2, 256)))


def test_images_smaller_than_a_block_fail_at_fit():
    with pytest.raises(ValueError, match="too small"):
        HOGFeatures(pixels_per_cell=(8, 8), cells_per_block=(3, 3)).fit(np.zeros((2, 16, 16)))


def test_pixel_dtype_does_not_matter(images):
    model = HOGFeatures().fit(images)
    np.testing.assert_allclose(model.transform(images), model.transform(images.astype(np.float32)), rtol=1e-6)


def test_each_image_is_described_on_its_own(images):
    model = HOGFeatures().fit(images)
    features = model.transform(images)
    np.testing.assert_allclose(model.transform(images[::-1]), features[::-1])
    np.testing.assert_allclose(model.transform(images[2:3]), features[2:3])
    # Refitting on other images of the same size changes nothing.
    refit = HOGFeatures().fit(np.zeros((1, 24, 32)))
    np.testing.assert_allclose(refit.transform(images), features)


def test_fitted_state_and_names(images):
    model = HOGFeatures()
    with pytest.raises(NotFittedError):
        model.transform(images)
    assert model.fit(images) is model
    features = model.transform(images)
    names = model.get_feature_names_out()
    assert names.shape == (features.shape[1],) and names[0] == "hogfeatures0"
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.transform(images), features)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(clone(model), "image_shape_")


def test_nan_pixels_are_refused(images):
    with pytest.raises(ValueError, match="NaN"):
        HOGFeatures().fit(np.where(images > 250, np.nan, images))
