"""Training and prediction that cannot crash on ordinary data nor lie about failure."""

import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from skfkd import FacialKeypointRegressor
from skfkd.datasets import make_faces
from skfkd.neural._data import batch_bounds
from skfkd.neural._interrupts import interrupts_deferred

TINY = {
    "module__widths": (4, 8, 8),
    "module__depths": (1, 1, 1),
    "module__decoder_widths": (4,),
    "latent_dim": 8,
    "augmentation": None,
    "random_state": 0,
}


class _BatchSizes(Callback):
    """Records the size of every training batch."""

    def initialize(self):
        self.sizes = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.sizes.append(len(batch[0]))


@pytest.mark.parametrize(("n_samples", "split"), [(65, False), (129, False), (73, True)])
def test_a_last_batch_of_one_face_joins_the_one_before(n_samples, split):
    # The default network on 96x96 faces, whose batch norm cannot train on one face.
    X, y = make_faces(n_samples, random_state=0, return_X_y=True)
    sizes = _BatchSizes()
    params = {} if split else {"train_split": None}
    model = FacialKeypointRegressor(max_epochs=1, random_state=0, callbacks=[sizes], **params).fit(X, y)
    assert min(sizes.sizes) >= 2
    n_train = n_samples - (int(np.ceil(0.1 * n_samples)) if split else 0)
    assert sum(sizes.sizes) == n_train  # nothing dropped, nothing repeated
    assert np.isfinite(model.predict(X[:3])).all()


@given(n_samples=st.integers(1, 500), batch_size=st.integers(4, 100), min_last=st.integers(1, 4))
def test_batch_bounds_cover_every_sample_once_with_no_short_last_batch(n_samples, batch_size, min_last):
    bounds = batch_bounds(n_samples, batch_size, min_last)
    assert bounds[0][0] == 0 and bounds[-1][1] == n_samples
    assert all(stop == start for (_, stop), (start, _) in zip(bounds[:-1], bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert all(size == batch_size for size in sizes[:-1])
    assert len(sizes) == 1 or sizes[-1] >= min_last


def test_one_face_is_a_clear_error_and_two_faces_train():
    X, y = make_faces(2, image_size=32, random_state=0, return_X_y=True)
    with pytest.raises(ValueError, match="needs at least 2 samples to train .* got 1 sample"):
        FacialKeypointRegressor(**TINY, max_epochs=1).fit(X[:1], y[:1])
    # The default validation split would leave one face to train on: it is skipped, saying so.
    with pytest.warns(UserWarning, match="too few for a validation split .* without early stopping"):
        model = FacialKeypointRegressor(**TINY, max_epochs=2).fit(X, y)
    assert len(model.history_) == 2 and "valid_loss" not in model.history_[-1]


def test_a_diverging_learning_rate_leaves_no_fitted_model():
    X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    model = FacialKeypointRegressor(**TINY, lr=1e6, max_epochs=10, train_split=None)
    with pytest.raises(FloatingPointError, match="training stopped.*Lower lr.*The model is left unfitted"):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        model.predict(X[:2])
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_a_diverging_continued_training_restores_the_weights_before_it():
    X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    model = FacialKeypointRegressor(**TINY, max_epochs=1, train_split=None).fit(X, y)
    before = model.predict(X[:4])
    with pytest.raises(FloatingPointError, match="The weights are back to those before this call"):
        model.set_params(lr=1e6, max_epochs=10).partial_fit(X, y)
    np.testing.assert_array_equal(model.predict(X[:4]), before)


class _PoisonWeights(Callback):
    """Writes NaN into one weight after the last batch of the first epoch, leaving the loss finite."""

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == 1 and len(net.history[-1]["batches"]) == 2:
            with torch.no_grad():
                net.module_.head[-1].weight[0, 0] = float("nan")


def test_non_finite_weights_stop_training_at_the_end_of_the_epoch():
    X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    model = FacialKeypointRegressor(
        **TINY, batch_size=32, max_epochs=3, train_split=None, callbacks=[_PoisonWeights()]
    )
    with pytest.raises(FloatingPointError, match=r"weight tensors of the network \(head.3.weight\) hold NaN"):
        model.fit(X, y)


def test_predict_never_returns_nan_silently():
    X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    model = FacialKeypointRegressor(**TINY, max_epochs=1, train_split=None).fit(X, y)
    with torch.no_grad():
        model.module_.head[-1].bias[3] = float("nan")
    with pytest.raises(FloatingPointError, match="predicted NaN or infinity for 5 of 5 images"):
        model.predict(X[:5])


def test_pixels_beyond_float32_are_refused_naming_the_value():
    X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    huge = X.astype(np.float64)
    huge[3, 7] = 1e39
    with pytest.raises(ValueError, match=r"pixel value 1e\+39, beyond the range of float32"):
        FacialKeypointRegressor(**TINY, max_epochs=1).fit(huge, y)
    model = FacialKeypointRegressor(**TINY, max_epochs=1, train_split=None).fit(X, y)
    with pytest.raises(ValueError, match=r"pixel value 1e\+39"):
        model.predict(huge)
    # Large values that float32 holds are fine with per-image standardisation.
    np.testing.assert_allclose(model.predict(X[:4] * 1e30), model.predict(X[:4]), atol=1e-3)


def test_set_params_of_the_module_on_a_fitted_model_rebuilds_it():
    X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    model = FacialKeypointRegressor(**TINY, max_epochs=1, train_split=None).fit(X, y)
    model.set_params(module__dropout=0.2, compile=False)
    assert model.module_.head[2].p == 0.2 and model.device == "auto"
    assert np.isfinite(model.fit(X, y).predict(X[:2])).all()


def test_ctrl_c_is_held_back_while_torch_imports_and_raised_after():
    reached = []

    def interrupted_block():
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            reached.append("the end of the block")

    # Python's own Ctrl-C handler, whatever the runner left: a shell starts background jobs
    # with SIGINT ignored, and then there is nothing to defer.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            interrupted_block()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert reached == ["the end of the block"]


INTERRUPTED_FIT = textwrap.dedent(
    """
    import signal, sys, threading, os
    from skfkd import FacialKeypointRegressor
    from skfkd.datasets import make_faces

    X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    params = dict(module__widths=(4, 8, 8), module__depths=(1, 1, 1), latent_dim=8, max_epochs=200)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the runner ignores Ctrl-C
    threading.Timer(float(sys.argv[1]), os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        # skorch ends training on Ctrl-C and returns
        epochs = len(FacialKeypointRegressor(**params).fit(X, y).history)
    except KeyboardInterrupt:
        epochs = 0
    print("interrupted after", epochs, "epochs")
    model = FacialKeypointRegressor(**{**params, "max_epochs": 1}).fit(X, y)
    print("trained again:", model.predict(X[:1]).shape)
    """
)


@pytest.mark.parametrize("delay", [0.1, 0.3, 0.6, 1.5])
def test_ctrl_c_early_in_fit_leaves_a_process_that_trains_again(delay):
    # Whenever the interrupt lands (in the first optimizer's imports, or in training),
    # the process can train again afterwards.
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_FIT, str(delay)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(re.search(r"interrupted after (\d+) epochs", result.stdout).group(1)) < 200
    assert "trained again: (1, 30)" in result.stdout
