"""skorch's documented workflows, as a skorch user would write them, on the regressor."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback, Checkpoint, EpochScoring, LoadInitState, LRScheduler
from torch.optim.lr_scheduler import StepLR

from skfkd import KAGGLE_15, FacialKeypointRegressor
from skfkd.datasets import make_faces
from skfkd.metrics import nme_scorer, normalized_mean_error
from skfkd.neural import TrainingCheckpoint

SMALL = {
    "module__widths": (8, 16, 16),
    "module__depths": (1, 1, 1),
    "latent_dim": 16,
    "augmentation": None,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def faces():
    return make_faces(160, image_size=32, random_state=0)


def test_epoch_scoring_with_the_nme_scorer_scores_the_validation_split_in_pixels(faces):
    scoring = EpochScoring(nme_scorer, name="valid_nme", lower_is_better=False)
    model = FacialKeypointRegressor(**SMALL, max_epochs=3, callbacks=[scoring]).fit(faces.data, faces.target)
    scores = model.history_[:, "valid_nme"]
    assert len(scores) == 3 and all(np.isfinite(scores)) and all(score < 0 for score in scores)
    # The last epoch's score is the NME of predict on the validation faces (the last 10%
    # of a ValidSplit(0.1, random_state=0) split), up to the early stopping's restore.
    _, valid = model.train_split(np.arange(len(faces.data)))
    expected = normalized_mean_error(faces.target[valid.indices], model.predict(faces.data[valid.indices]))
    assert scores[-1] == pytest.approx(-expected, rel=1e-4)


def test_a_users_lr_scheduler_replaces_the_default_cosine_schedule(faces):
    scheduler = LRScheduler(policy=StepLR, step_size=1, gamma=0.5)
    model = FacialKeypointRegressor(**SMALL, max_epochs=4, lr=0.01, train_split=None, callbacks=[scheduler])
    model.fit(faces.data, faces.target)
    rates = [group["lr"] for group in model.optimizer_.param_groups]
    assert rates == [pytest.approx(0.01 * 0.5**4)]  # StepLR's, untouched by the cosine
    assert "lr" not in model.history_[-1]  # the cosine records its rate; it stayed quiet
    # Without one, the cosine schedule runs and records its rate each epoch.
    default = FacialKeypointRegressor(**SMALL, max_epochs=4, lr=0.01, train_split=None).fit(
        faces.data, faces.target
    )
    assert default.history_[0, "lr"] == pytest.approx(0.01) and default.history_[-1, "lr"] < 0.01
    # callbacks__lr_schedule=None switches it off: a constant rate.
    constant = FacialKeypointRegressor(
        **SMALL, max_epochs=2, lr=0.01, train_split=None, callbacks__lr_schedule=None
    )
    constant.fit(faces.data, faces.target)
    assert [group["lr"] for group in constant.optimizer_.param_groups] == [0.01]


def test_initialize_then_load_params_predicts_as_the_saved_model(faces, tmp_path):
    model = FacialKeypointRegressor(**SMALL, max_epochs=2).fit(faces.data, faces.target)
    model.save_params(f_params=tmp_path / "params.pt")
    fresh = FacialKeypointRegressor(**SMALL, image_shape=(32, 32), layout=KAGGLE_15).initialize()
    fresh.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_allclose(fresh.predict(faces.data[:10]), model.predict(faces.data[:10]), atol=1e-4)
    with pytest.raises(ValueError, match=r"initialize\(\) before fit needs the network's shape"):
        FacialKeypointRegressor(**SMALL).initialize()
    # max_epochs=0 builds the network without training it, as in skorch.
    untrained = FacialKeypointRegressor(**SMALL, max_epochs=0).fit(faces.data, faces.target)
    assert len(untrained.history_) == 0 and untrained.predict(faces.data[:2]).shape == (2, 30)


def test_checkpoint_and_load_init_state_continue_from_the_best_epoch(faces, tmp_path):
    def model(epochs):
        checkpoint = Checkpoint(dirname=tmp_path / "checkpoint")
        return FacialKeypointRegressor(
            **SMALL, max_epochs=epochs, callbacks=[checkpoint, LoadInitState(checkpoint)]
        )

    first = model(3).fit(faces.data, faces.target)
    assert (tmp_path / "checkpoint" / "params.pt").is_file()
    second = model(2).fit(faces.data, faces.target)  # starts from the checkpoint's state
    assert len(second.history_) == len(first.history_) + 2
    assert second.history_[0, "train_loss"] == first.history_[0, "train_loss"]


class KilledAfter(Callback):
    """A process killed at the end of an epoch (after the checkpoint has been written)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epochs:
            raise RuntimeError("killed")


def _weights(model):
    return [tensor.detach().clone() for tensor in model.module_.state_dict().values()]


@pytest.mark.parametrize("train_split", [None, "default"])
def test_a_killed_fit_resumes_from_its_training_checkpoint_to_the_uninterrupted_fits_weights(
    faces, tmp_path, train_split
):
    # With augmentation: its draws come from the generator the checkpoint keeps. With a
    # validation split, early stopping's count and best weights are kept too.
    params = {**SMALL, "augmentation": "auto", "max_epochs": 4}
    if train_split is None:
        params["train_split"] = None
    path = tmp_path / "training.pt"

    def model(*callbacks):
        return FacialKeypointRegressor(
            **params, callbacks=[("checkpoint", TrainingCheckpoint(path)), *callbacks]
        )

    uninterrupted = FacialKeypointRegressor(**params).fit(faces.data, faces.target)
    with pytest.raises(RuntimeError, match="killed"):
        model(("kill", KilledAfter(2))).fit(faces.data, faces.target)
    resumed = model().fit(faces.data, faces.target)
    checkpoint = dict(resumed.callbacks_)["checkpoint"]
    assert checkpoint.resumed_at_ == 2 and len(resumed.history_) == 4
    for column in ("train_loss", "lr", *(["valid_loss"] if train_split else [])):
        assert resumed.history_[:, column] == uninterrupted.history_[:, column]
    for got, expected in zip(_weights(resumed), _weights(uninterrupted), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    # Its epochs all done, the checkpoint makes another fit train none.
    again = model().fit(faces.data, faces.target)
    assert dict(again.callbacks_)["checkpoint"].resumed_at_ == 4 and len(again.history_) == 4
    np.testing.assert_array_equal(again.predict(faces.data[:8]), uninterrupted.predict(faces.data[:8]))


def test_a_training_checkpoint_of_another_training_is_refused(faces, tmp_path):
    path = tmp_path / "training.pt"
    callbacks = [("checkpoint", TrainingCheckpoint(path))]
    FacialKeypointRegressor(**SMALL, max_epochs=1, callbacks=callbacks).fit(faces.data, faces.target)
    with pytest.raises(ValueError, match=r"training\.pt was written by another training .*delete it"):
        FacialKeypointRegressor(**SMALL, max_epochs=1, callbacks=callbacks).fit(
            faces.data[:100], faces.target[:100]
        )
    with pytest.raises(ValueError, match="another training"):  # three epochs are another fit than one
        FacialKeypointRegressor(**SMALL, max_epochs=3, callbacks=callbacks).fit(faces.data, faces.target)


def test_warm_start_continues_training(faces):
    model = FacialKeypointRegressor(**SMALL, max_epochs=1, warm_start=True).fit(faces.data, faces.target)
    model.fit(faces.data, faces.target)
    assert len(model.history_) == 2


def test_read_only_and_pandas_inputs_train_and_predict_without_warnings(faces):
    X, y = faces.data.copy(), faces.target.copy()
    X.setflags(write=False)
    y.setflags(write=False)
    frame_X, frame_y = pd.DataFrame(X), pd.DataFrame(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = FacialKeypointRegressor(**SMALL, max_epochs=1).fit(X, y)
        model.predict(X[:4])
        FacialKeypointRegressor(**SMALL, max_epochs=1).fit(frame_X, frame_y).predict(frame_X.iloc[:4])
