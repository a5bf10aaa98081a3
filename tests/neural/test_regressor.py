import copy
import pickle

import joblib
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.callbacks import Callback

from skfkd import KAGGLE_15, FacialKeypointRegressor
from skfkd.datasets import make_faces
from skfkd.metrics import keypoint_rmse
from skfkd.neural import KeypointAutoencoder, masked_mse
from skfkd.neural import _regressor as regressor_module
from skfkd.neural._inference import scale_targets, standardise, target_size, unscale_targets
from skfkd.neural._loss import heatmap_divergence

# No augmentation unless a test asks for it: these tests check the training machinery.
SMALL = {
    "module__widths": (8, 16, 32),
    "module__depths": (1, 2, 1),
    "module__decoder_widths": (16, 8),
    "latent_dim": 32,
    "batch_size": 32,
    "augmentation": None,
}


def _small(**params):
    return FacialKeypointRegressor(**{**SMALL, "max_epochs": 2, "random_state": 0, **params})


@pytest.fixture(scope="module")
def faces():
    return make_faces(240, image_size=32, random_state=0)


@pytest.fixture(scope="module")
def fitted(faces):
    return _small(max_epochs=4).fit(faces.data, faces.target)


def test_learns_keypoints_better_than_the_mean_face():
    X, y = make_faces(600, image_size=32, random_state=1, return_X_y=True)
    X_test, y_test = make_faces(150, image_size=32, random_state=2, return_X_y=True)
    model = _small(max_epochs=25, train_split=None).fit(X, y)
    mean_face = np.tile(y.mean(axis=0), (len(y_test), 1))
    assert keypoint_rmse(y_test, model.predict(X_test)) < 0.8 * keypoint_rmse(y_test, mean_face)


def test_predictions_are_pixels_in_the_target_order(fitted, faces):
    y_pred = fitted.predict(faces.data)
    assert y_pred.shape == faces.target.shape and y_pred.dtype == np.float64
    # Even a briefly trained model puts the points near the face, in the right order:
    # the subject's left eye (column 0) on the image's right of the right eye (column 2).
    assert np.all((y_pred > -5) & (y_pred < 37))
    assert np.mean(y_pred[:, 0] > y_pred[:, 2]) > 0.9


def test_target_scaling_round_trips_and_maps_edges_to_unit_range(fitted):
    pixels = torch.tensor([[-0.5, -0.5, 31.5, 31.5, 15.5, 15.5]]).repeat(1, 5)
    size = target_size(fitted.image_shape_, fitted.n_outputs_)
    scaled = scale_targets(pixels, size)
    np.testing.assert_allclose(scaled[0, :6], [-1, -1, 1, 1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(unscale_targets(scaled, size).numpy(), pixels.numpy(), atol=1e-5)


def test_masked_mse_ignores_unannotated_coordinates():
    prediction = torch.tensor([[1.0, 2.0, 3.0, 4.0]], requires_grad=True)
    target = torch.tensor([[1.0, float("nan"), 5.0, float("nan")]])
    loss = masked_mse(prediction, target)
    assert loss.item() == pytest.approx(2.0)  # (0 + 4) / 2 annotated coordinates
    loss.backward()
    assert prediction.grad[0, 1] == 0 and prediction.grad[0, 3] == 0 and prediction.grad[0, 2] != 0
    assert masked_mse(prediction, torch.full((1, 4), float("nan"))).item() == 0


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_unlabelled_rows_train_the_encoder_through_the_autoencoder_only(faces, weight):
    model = _small(autoencoder_weight=weight, max_epochs=1).fit(faces.data, faces.target)
    images = model._images_for_network(faces.images[:16]).contiguous(memory_format=torch.channels_last)
    unlabelled = torch.full((16, 30), float("nan"))
    model.module_.train()
    model.module_.zero_grad()
    loss = model.get_loss(model.infer(images), unlabelled, X=images)
    loss.backward()
    gradient = sum(p.grad.abs().sum().item() for p in model.module_.encoder.parameters())
    # Without labels only the reconstruction term can teach the encoder.
    assert (gradient > 0) == (weight > 0)
    # The unlabelled faces are accepted by partial_fit too.
    model.partial_fit(faces.data[:16], unlabelled.numpy())


def test_autoencoder_weight_zero_skips_the_decoder(faces):
    model = _small(autoencoder_weight=0.0, max_epochs=1).fit(faces.data, faces.target)
    assert all(p.grad is None or not p.grad.any() for p in model.module_.decoder.parameters())


def test_any_image_size_and_keypoint_count():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (40, 20, 28))  # 3-D, not square
    y = rng.uniform(0, 20, (40, 6))  # three keypoints: no built-in layout
    model = _small(max_epochs=1).fit(X, y)
    assert model.image_shape_ == (20, 28) and model.layout_ is None
    assert model.predict(X).shape == (40, 6)
    flat = _small(max_epochs=1, image_shape=(20, 28)).fit(X.reshape(40, -1), y)
    assert flat.predict(X.reshape(40, -1)).shape == (40, 6)


def test_flip_test_is_mirror_equivariant(fitted, faces):
    # Averaging with the mirrored prediction makes predict(mirror(x)) == mirror(predict(x)).
    model = clone(fitted).set_params(flip_test=True)
    model.fit(faces.data, faces.target)
    images = faces.images[:8]
    mirrored = images[:, :, ::-1].reshape(8, -1)
    predicted = model.predict(images.reshape(8, -1)).reshape(8, 15, 2)
    expected = predicted[:, KAGGLE_15.flip_permutation].copy()
    expected[..., 0] = 31 - expected[..., 0]
    np.testing.assert_allclose(model.predict(mirrored).reshape(8, 15, 2), expected, atol=1e-3)


@pytest.mark.parametrize(
    ("flip_test", "mirror_shift", "expected_shift"),
    [
        (True, 0.0, 0.0),
        ("shape", 0.0, 0.0),
        # A mirrored pass that places the face 2 px to the right in the mirror image, as a
        # markup with a left/right offset teaches: the plain average moves the points 1 px
        # to the left; "shape" keeps the plain pass's position.
        (True, 2.0, -1.0),
        ("shape", 2.0, 0.0),
    ],
)
def test_flip_test_maps_mirrored_predictions_back_onto_the_original_labels(
    fitted, faces, monkeypatch, flip_test, mirror_shift, expected_shift
):
    # An oracle network that knows the true keypoints of each face and of its mirror
    # image: flip test-time augmentation must then return the truth exactly, which it
    # only does if the mirror, the relabelling and the scaling are composed correctly.
    model = clone(fitted).set_params(flip_test=flip_test).fit(faces.data[:40], faces.target[:40])
    images = model._images_for_network(faces.images[:8])
    truth = faces.keypoints[:8]
    mirrored = truth[:, KAGGLE_15.flip_permutation].copy()
    mirrored[..., 0] = 31 - mirrored[..., 0] + mirror_shift
    size = target_size(model.image_shape_, model.n_outputs_)

    def oracle(batch, reconstruct=False):
        # The flip test passes the images and their mirror images in one batch.
        assert torch.equal(batch[:8], images) and torch.equal(batch[8:], torch.flip(images, dims=[3]))
        keypoints = np.concatenate([truth, mirrored]).reshape(16, -1)
        return scale_targets(torch.tensor(keypoints, dtype=torch.float32), size), None

    monkeypatch.setattr(regressor_module, "inference_network", lambda module: oracle)
    expected = faces.keypoints[:8] + [expected_shift, 0.0]
    np.testing.assert_allclose(model.predict(faces.data[:8]).reshape(8, 15, 2), expected, atol=1e-4)


def test_flip_test_shape_keeps_the_plain_position_and_the_averaged_shape(fitted, faces):
    # On a trained network: "shape" is the plain flip test's points moved as one, so that
    # their mean is the plain prediction's.
    model = copy.deepcopy(fitted)
    plain, averaged, shaped = (
        model.set_params(flip_test=flip_test).predict(faces.data[:8]).reshape(8, 15, 2)
        for flip_test in (False, True, "shape")
    )
    np.testing.assert_allclose(shaped.mean(axis=1), plain.mean(axis=1), atol=1e-3)
    moved = shaped - averaged
    np.testing.assert_allclose(
        moved, np.broadcast_to(moved.mean(axis=1, keepdims=True), moved.shape), atol=1e-3
    )
    assert np.abs(shaped - plain).max() > 0.01  # the shape did change


def test_flip_test_needs_flip_pairs():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(20, 16, 16)), rng.uniform(0, 15, (20, 6))
    with pytest.raises(ValueError, match="flip_test=True needs a layout with left/right flip pairs"):
        _small(max_epochs=1, flip_test=True).fit(X, y)  # said before training, not after
    model = _small(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="flip pairs"):
        model.set_params(flip_test=True).predict(rng.uniform(size=(2, 16, 16)))


def test_reproducible_with_random_state(faces):
    first = _small().fit(faces.data, faces.target).predict(faces.data[:5])
    second = _small().fit(faces.data, faces.target).predict(faces.data[:5])
    np.testing.assert_array_equal(first, second)
    other = _small(random_state=1).fit(faces.data, faces.target).predict(faces.data[:5])
    assert not np.allclose(first, other)


def test_random_state_does_not_touch_global_torch_state(faces):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _small(max_epochs=1).fit(faces.data, faces.target)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_pickle_and_joblib_give_identical_predictions(fitted, faces, tmp_path):
    expected = fitted.predict(faces.data[:10])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict(faces.data[:10]), expected)
    joblib.dump(fitted, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict(faces.data[:10]), expected)
    assert loaded.device == "auto"


def test_clone_and_module_parameters(fitted):
    model = clone(fitted).set_params(module__hidden_dim=17, latent_dim=9)
    assert model.get_params()["module__hidden_dim"] == 17
    model.fit(*make_faces(40, image_size=32, random_state=0, return_X_y=True))
    assert model.module_.head[0].out_features == 17 and model.module_.head[0].in_features == 9
    assert isinstance(model.module_, KeypointAutoencoder)


def test_in_a_pipeline_with_grid_search_and_grouped_cross_validation(faces):
    scale = FunctionTransformer(lambda X: X / 255.0)
    pipeline = make_pipeline(scale, _small(max_epochs=1, train_split=None))
    search = GridSearchCV(pipeline, {"facialkeypointregressor__latent_dim": [8, 16]}, cv=2)
    search.fit(faces.data, faces.target)
    assert search.best_params_["facialkeypointregressor__latent_dim"] in (8, 16)
    groups = np.arange(len(faces.data)) % 4
    scores = cross_validate(pipeline, faces.data, faces.target, groups=groups, cv=GroupKFold(2))
    assert np.isfinite(scores["test_score"]).all()


def test_partial_fit_and_warm_start_continue_training(faces):
    model = _small(max_epochs=2).fit(faces.data, faces.target)
    weights = [p.detach().clone() for p in model.module_.parameters()]
    model.partial_fit(faces.data, faces.target)
    assert len(model.history_) == 4
    assert any(not torch.equal(p, w) for p, w in zip(model.module_.parameters(), weights))
    model.set_params(warm_start=True).fit(faces.data, faces.target)
    assert len(model.history_) == 6
    model.set_params(warm_start=False).fit(faces.data, faces.target)
    assert len(model.history_) == 2


def _eval_forward(model, X):
    """Predictions straight from ``module_`` in eval mode, without predict's folded copy."""
    model.module_.eval()
    with torch.no_grad():
        images = model._images_for_network(X)
        keypoints, _ = model.module_(images, reconstruct=False)
    return unscale_targets(keypoints, target_size(model.image_shape_, model.n_outputs_)).numpy()


def test_predict_follows_the_weights_whenever_they_change(faces):
    X, y = faces.data[:40], faces.target[:40]
    model = _small(max_epochs=1).fit(X, y)
    state = dict(vars(model))
    before = model.predict(X)
    assert vars(model).keys() == state.keys()  # predict adds nothing to the estimator
    np.testing.assert_allclose(before, _eval_forward(model, X), atol=1e-3)
    model.partial_fit(X, y)  # training writes the weights in place
    after = model.predict(X)
    assert not np.allclose(before, after, atol=1e-3)
    np.testing.assert_allclose(after, _eval_forward(model, X), atol=1e-3)
    with torch.no_grad():  # so does a user editing them by hand
        model.module_.head[-1].bias.add_(0.5)
    np.testing.assert_allclose(model.predict(X), _eval_forward(model, X), atol=1e-3)
    assert np.all(model.predict(X) - after > 1)


def test_early_stopping_restores_the_best_weights(faces):
    model = _small(max_epochs=30, patience=2, lr=0.05).fit(faces.data, faces.target)
    losses = model.history_[:, "valid_loss"]
    assert len(losses) < 30
    best = int(np.argmin(losses))
    assert model.history_[best, "valid_loss_best"]


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_interrupted_fit_keeps_a_working_model(faces):
    model = _small(max_epochs=10, callbacks=[_InterruptAt(3)]).fit(faces.data, faces.target)
    assert len(model.history_) == 3
    assert np.isfinite(model.predict(faces.data[:4])).all()


class _NanLoss(torch.nn.Module):
    def __init__(self, autoencoder_weight, keypoint_loss):
        super().__init__()

    def forward(self, outputs, target, images):
        return outputs[0].sum() * float("nan")


def test_non_finite_loss_stops_training_naming_the_epoch(faces):
    with pytest.raises(FloatingPointError, match="training loss became nan in epoch 1"):
        _small(criterion=_NanLoss).fit(faces.data, faces.target)


def test_fewer_samples_than_batch_size(faces):
    model = _small(batch_size=64, train_split=None).fit(faces.data[:5], faces.target[:5])
    assert model.predict(faces.data[:1]).shape == (1, 30)


def test_bad_input_is_rejected_with_a_clear_message(fitted, faces):
    X, y = faces.data.astype(float), faces.target
    with pytest.raises(NotFittedError):
        _small().predict(X)
    with pytest.raises(ValueError, match="NaN"):
        _small().fit(np.where(np.arange(X.shape[1]) == 5, np.nan, X), y)
    with pytest.raises(ValueError, match="infinity"):
        _small().fit(np.where(np.arange(X.shape[1]) == 5, np.inf, X), y)
    with pytest.raises(ValueError, match="X has 240 samples but y has 239"):
        _small().fit(X, y[:-1])
    with pytest.raises(ValueError, match="2 \\* n_keypoints"):
        _small().fit(X, y[:, :-1])
    with pytest.raises(ValueError, match=r"columns \[3\] have no annotated value"):
        _small().fit(X, np.where(np.arange(30) == 3, np.nan, y))
    with pytest.raises(ValueError, match="not a square image"):
        _small().fit(X[:, :-1], y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(make_faces(2, image_size=40, random_state=0).data)
    with pytest.raises(ValueError, match="requires y to be passed"):
        _small().fit(X, None)


# sklearn's generic estimator checks feed 2-10 columns of random numbers, which are not
# images, so tests/test_common.py lists them as expected failures; these are the same
# invariants on images.


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_sklearn_invariants_on_images(faces, dtype, tmp_path):
    X = faces.data[:60].astype(dtype)
    y = faces.target[:60]
    model = _small(max_epochs=1)
    assert model.fit(X, y) is model
    assert model.n_features_in_ == 32 * 32 and model.n_outputs_ == 30
    state = dict(model.__dict__)
    y_pred = model.predict(X)
    assert model.__dict__.keys() == state.keys()  # predict learns nothing
    np.testing.assert_allclose(model.predict(X[10:20]), y_pred[10:20], atol=1e-5)  # subset invariance
    order = np.random.default_rng(0).permutation(60)
    np.testing.assert_allclose(model.predict(X[order]), y_pred[order], atol=1e-5)
    np.testing.assert_allclose(model.predict(X.reshape(60, 32, 32)), y_pred, atol=1e-5)
    joblib.dump(X, tmp_path / "X.joblib")
    read_only = joblib.load(tmp_path / "X.joblib", mmap_mode="r")
    np.testing.assert_allclose(_small(max_epochs=1).fit(read_only, y).predict(read_only), y_pred, atol=1e-5)
    with pytest.raises(ValueError, match="1024 features"):
        model.predict(X[:, :100])


def test_augmentation_trains_on_a_fitted_copy_and_never_at_predict_time(faces, monkeypatch):
    from skfkd.augmentation import KeypointAugmenter

    augmenter = KeypointAugmenter(random_state=0)
    calls = []
    original = KeypointAugmenter.augment_batch

    def spy(self, images, targets, **kwargs):
        calls.append(len(images))
        return original(self, images, targets, **kwargs)

    monkeypatch.setattr(KeypointAugmenter, "augment_batch", spy)
    model = _small(augmentation=augmenter, max_epochs=2).fit(faces.data, faces.target)
    assert model.augmentation_ is not augmenter and not hasattr(augmenter, "layout_")
    # 216 training rows per epoch (24 validation rows are never augmented), two epochs.
    assert sum(calls) == 2 * 216
    calls.clear()
    model.predict(faces.data)
    assert calls == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"autoencoder_weight": -1.0}, "autoencoder_weight"),
        ({"autoencoder_weight": float("nan")}, "autoencoder_weight"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"batch_size": 2.5}, "batch_size"),
    ],
)
def test_bad_parameters_are_reported_at_fit(faces, params, message):
    with pytest.raises(ValueError, match=message):
        _small(**params).fit(faces.data, faces.target)


def test_augmentation_parameters_are_nested_sklearn_parameters():
    from skfkd.augmentation import KeypointAugmenter

    model = _small(augmentation=KeypointAugmenter(rotation=15.0))
    assert model.get_params()["augmentation__rotation"] == 15.0
    tuned = clone(model).set_params(augmentation__rotation=5.0, lr=0.01)
    assert tuned.augmentation.rotation == 5.0 and tuned.lr == 0.01
    assert model.augmentation.rotation == 15.0  # the clone has its own augmenter
    with pytest.raises(ValueError, match="augmentation=None"):
        _small().set_params(augmentation__rotation=5.0)


def test_default_augmentation_is_the_measured_geometric_one(faces):
    model = FacialKeypointRegressor(**{**SMALL, "augmentation": "auto"}, max_epochs=1, random_state=0)
    model.fit(faces.data, faces.target)
    params = model.augmentation_.get_params()
    assert params["rotation"] == 15.0 and params["scale"] == (0.9, 1.1) and params["shift"] == 0.05
    assert params["flip"] == params["brightness"] == params["contrast"] == params["noise"] == 0
    assert FacialKeypointRegressor().augmentation == "auto"
    with pytest.raises(
        ValueError,
        match="The 'augmentation' parameter of FacialKeypointRegressor must be a str among {'auto'}, an instance of",
    ):
        _small(augmentation="strong").fit(faces.data, faces.target)


@settings(max_examples=10, deadline=None)
@given(gain=st.floats(0.2, 3.0), offset=st.floats(-50.0, 50.0))
def test_per_image_standardisation_ignores_each_faces_brightness_and_contrast(fitted, faces, gain, offset):
    X = faces.data[:6].astype(np.float64)
    changed = X * gain + offset  # another exposure of the same faces
    np.testing.assert_allclose(fitted.predict(changed), fitted.predict(X), atol=1e-3)


def test_standardize_dataset_uses_the_training_statistics(faces):
    model = _small(standardize="dataset", max_epochs=1).fit(faces.data, faces.target)
    X = faces.data[:6].astype(np.float64)
    assert not np.allclose(model.predict(X * 2), model.predict(X), atol=1e-3)
    inputs = standardise(
        torch.as_tensor(faces.images[:6], dtype=torch.float32), "dataset", model.input_mean_, model.input_std_
    )
    expected = (faces.images[:6] - faces.data.mean()) / faces.data.std()
    np.testing.assert_allclose(inputs[:, 0].numpy(), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(
        ValueError, match="The 'standardize' parameter of FacialKeypointRegressor must be a str among"
    ):
        _small(standardize="global").fit(faces.data, faces.target)


def _mean_heatmap_divergence(model, faces):
    pixels = torch.as_tensor(faces.data, dtype=torch.float32).view(-1, 32, 32)
    images = standardise(pixels, "image", model.input_mean_, model.input_std_)
    targets = scale_targets(torch.as_tensor(faces.target, dtype=torch.float32), target_size((32, 32), 30))
    model.module_.eval()
    with torch.no_grad():
        scores = model.module_(images, reconstruct=False, heatmaps=True)[2]
    return heatmap_divergence(scores, targets).item()


def test_the_heatmap_weight_peaks_the_maps_on_the_keypoints(faces):
    heatmap = {
        "module__head": "heatmap",
        "module__heatmap_stages": (0, 1),
        "train_split": None,
        "max_epochs": 12,
    }
    plain = _small(**heatmap).fit(faces.data, faces.target)
    shaped = _small(**heatmap, heatmap_weight=1.0).fit(faces.data, faces.target)
    assert shaped.criterion_.heatmap_weight == 1.0 and plain.criterion_.heatmap_weight == 0
    divergences = _mean_heatmap_divergence(plain, faces), _mean_heatmap_divergence(shaped, faces)
    assert divergences[1] < 0.8 * divergences[0], divergences
    assert np.isfinite(shaped.predict(faces.data[:4])).all()


def test_the_heatmap_weight_needs_the_heatmap_head(faces):
    with pytest.raises(ValueError, match="heatmaps=True needs the heatmap head"):
        _small(heatmap_weight=1.0).fit(faces.data, faces.target)


# -- RGB images ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rgb_faces(faces):
    """The synthetic faces in colour: each channel a different tone curve of the gray face."""
    gray = faces.images.astype(np.float32)
    return np.stack([gray, 0.5 * gray + 60, 255 - gray], axis=-1)


@pytest.fixture(scope="module")
def rgb_fitted(rgb_faces, faces):
    return _small(max_epochs=3).fit(rgb_faces, faces.target)


def test_rgb_images_train_a_network_on_three_channels(rgb_fitted, rgb_faces, faces):
    assert rgb_fitted.n_channels_ == 3 and rgb_fitted.image_shape_ == (32, 32)
    assert rgb_fitted.n_features_in_ == 32 * 32 * 3
    first_convolution = next(m for m in rgb_fitted.module_.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_convolution.in_channels == 3
    predicted = rgb_fitted.predict(rgb_faces[:8])
    assert predicted.shape == (8, 30) and np.isfinite(predicted).all()
    # Each channel reaches the network: changing one alone changes the prediction.
    for channel in range(3):
        changed = rgb_faces[:8].copy()
        changed[..., channel] = np.flip(changed[..., channel], axis=1)
        assert np.abs(rgb_fitted.predict(changed) - predicted).max() > 1e-2


def test_rgb_rows_are_read_by_their_image_shape_as_the_stacks_are(rgb_fitted, rgb_faces, faces):
    rows = rgb_faces.reshape(len(rgb_faces), -1)
    from_rows = _small(max_epochs=3, image_shape=(32, 32, 3)).fit(rows, faces.target)
    np.testing.assert_allclose(from_rows.predict(rows[:8]), rgb_fitted.predict(rgb_faces[:8]), atol=1e-5)
    np.testing.assert_allclose(rgb_fitted.predict(rows[:8]), rgb_fitted.predict(rgb_faces[:8]), atol=1e-6)
    # 3072 values per row could as well be 64x48 gray images: colour is never guessed.
    with pytest.raises(
        ValueError, match=r"not a square image; pass image_shape=\(height, width\) \(or \(height"
    ):
        _small().fit(rows, faces.target)


def test_gray_and_rgb_models_refuse_each_others_images(fitted, rgb_fitted, rgb_faces, faces):
    with pytest.raises(ValueError, match="X holds 32x32 RGB images but the model was fitted on 32x32 gray"):
        fitted.predict(rgb_faces[:2])
    with pytest.raises(ValueError, match="X holds 32x32 gray images but the model was fitted on 32x32 RGB"):
        rgb_fitted.predict(faces.images[:2])
    with pytest.raises(
        ValueError, match="X has 1024 features, but FacialKeypointRegressor is expecting 3072"
    ):
        rgb_fitted.predict(faces.data[:2])
    with pytest.raises(ValueError, match=r"images of 4 channels \(32, 32, 4\)"):
        rgb_fitted.predict(np.zeros((2, 32, 32, 4)))
    # One channel is gray.
    np.testing.assert_array_equal(
        fitted.predict(faces.images[:4, ..., None]), fitted.predict(faces.images[:4])
    )


@settings(max_examples=10, deadline=None)
@given(gain=st.floats(0.2, 3.0), offset=st.floats(-50.0, 50.0))
def test_rgb_standardisation_takes_each_image_over_all_its_channels(rgb_fitted, rgb_faces, gain, offset):
    X = rgb_faces[:6].astype(np.float64)
    np.testing.assert_allclose(rgb_fitted.predict(X * gain + offset), rgb_fitted.predict(X), atol=1e-3)
    # ... and not each channel on its own, which would erase the colour balance.
    balanced = X.copy()
    balanced[..., 0] = balanced[..., 0] * gain + offset
    inputs = standardise(torch.as_tensor(X, dtype=torch.float32), "image", 0.0, 1.0)
    changed = standardise(torch.as_tensor(balanced, dtype=torch.float32), "image", 0.0, 1.0)
    assert inputs.shape == (6, 3, 32, 32)
    if abs(gain - 1) > 0.05 or abs(offset) > 1:
        assert not torch.allclose(inputs, changed, atol=1e-3)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), standardize=st.sampled_from(["image", "dataset"]))
def test_a_gray_image_in_three_channels_is_the_gray_input_three_times(seed, standardize):
    gray = torch.as_tensor(np.random.default_rng(seed).uniform(0, 255, (3, 9, 7)), dtype=torch.float32)
    as_rgb = standardise(gray[..., None].expand(-1, -1, -1, 3), standardize, 100.0, 50.0)
    torch.testing.assert_close(as_rgb, standardise(gray, standardize, 100.0, 50.0).expand(-1, 3, -1, -1))


def test_rgb_flip_test_is_mirror_equivariant(rgb_fitted, rgb_faces, faces):
    model = clone(rgb_fitted).set_params(flip_test=True).fit(rgb_faces, faces.target)
    images = rgb_faces[:8]
    predicted = model.predict(images).reshape(8, 15, 2)
    expected = predicted[:, KAGGLE_15.flip_permutation].copy()
    expected[..., 0] = 31 - expected[..., 0]
    np.testing.assert_allclose(model.predict(images[:, :, ::-1]).reshape(8, 15, 2), expected, atol=1e-3)


def test_rgb_augmentation_moves_every_channel_with_the_keypoints(rgb_faces, faces):
    model = _small(max_epochs=1, augmentation="auto").fit(rgb_faces, faces.target)
    assert model.augmentation_.image_shape_ == (32, 32)
    batch = torch.as_tensor(rgb_faces[:4], dtype=torch.float32).permute(0, 3, 1, 2)
    targets = torch.as_tensor(faces.target[:4], dtype=torch.float32)
    moved, _ = model.augmentation_.augment_batch(batch, targets, generator=torch.Generator().manual_seed(0))
    # The channels are tone curves of one face: after the same warp, they still are.
    torch.testing.assert_close(moved[:, 1], 0.5 * moved[:, 0] + 60, atol=1e-3, rtol=0)


def test_rgb_network_is_built_from_parameters_for_load_params(rgb_fitted, tmp_path):
    rgb_fitted.save_params(f_params=tmp_path / "weights.pt")
    fresh = _small(image_shape=(32, 32, 3), layout=KAGGLE_15).initialize()
    fresh.load_params(f_params=tmp_path / "weights.pt")
    assert fresh.n_channels_ == 3 and fresh.n_features_in_ == 3072
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3))
    np.testing.assert_allclose(fresh.predict(images), rgb_fitted.predict(images), atol=1e-5)
