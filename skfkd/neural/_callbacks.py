"""The regressor's skorch callbacks, each one job: its defaults, and a checkpoint that an
interrupted fit resumes from."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.callbacks import ProgressBar as SkorchProgressBar

NON_FINITE_HINT = (
    "Lower lr, check the inputs for extreme values, or scale them (skfkd.preprocessing.ImageScaler)."
)


class StopOnNonFinite(Callback):
    """Stop training with a FloatingPointError, rather than leave a model that predicts NaN.

    Checked after every batch (the loss) and after every epoch (every weight and buffer
    of the network), so a model whose weights overflowed never counts as trained.
    """

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if loss is not None and not torch.isfinite(loss):
            stage = "training" if training else "validation"
            raise FloatingPointError(
                f"the {stage} loss became {loss.item()} in epoch {len(net.history)}; training stopped. "
                + NON_FINITE_HINT
            )

    def on_epoch_end(self, net, **kwargs):
        tensors = {**dict(net.module_.named_parameters()), **dict(net.module_.named_buffers())}
        broken = [name for name, tensor in tensors.items() if not torch.isfinite(tensor).all()]
        if broken:
            raise FloatingPointError(
                f"{len(broken)} weight tensors of the network ({', '.join(broken[:3])}"
                f"{', ...' if len(broken) > 3 else ''}) hold NaN or infinity after epoch {len(net.history)}; "
                "training stopped. " + NON_FINITE_HINT
            )


class CosineLearningRate(Callback):
    """Anneal the learning rate from ``net.lr`` to 1% of it over each call's epochs.

    Every ``fit``/``partial_fit`` call starts a fresh cycle, so continued training
    learns again instead of resuming at the end of a finished schedule, where the rate
    is near zero. A skorch ``LRScheduler`` among the net's callbacks replaces it: this one
    then leaves the rate alone.
    """

    def on_train_begin(self, net, **kwargs):
        self.first_epoch_ = len(net.history)
        self.active_ = not any(isinstance(callback, LRScheduler) for _, callback in net.callbacks_)

    def on_epoch_begin(self, net, **kwargs):
        if not self.active_:
            return
        progress = (len(net.history) - 1 - self.first_epoch_) / max(net.max_epochs, 1)
        lr = net.lr * (0.01 + 0.99 * (1 + math.cos(math.pi * progress)) / 2)
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        net.history.record("lr", lr)


class PatientEarlyStopping(EarlyStopping):
    """Stop when the validation loss stalls for ``net.patience`` epochs and restore the
    best weights (also after Ctrl-C); does nothing without a validation loss (no
    ``train_split``, or too few samples to split)."""

    def __init__(self):
        super().__init__(monitor="valid_loss", load_best=True)

    def on_train_begin(self, net, **kwargs):
        self.patience = net.patience
        super().on_train_begin(net, **kwargs)

    def on_epoch_end(self, net, **kwargs):
        if self.monitor in net.history[-1]:
            super().on_epoch_end(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        if len(net.history) and self.monitor in net.history[-1]:
            super().on_train_end(net, **kwargs)


class ProgressBar(SkorchProgressBar):
    """skorch's per-epoch progress bar, shown only when ``net.verbose`` and ``show``
    (``callbacks__progress_bar__show=False`` keeps a log free of its redraws)."""

    def __init__(self, *args, show=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.show = show

    def on_epoch_begin(self, net, **kwargs):
        self.pbar_ = None
        if net.verbose and self.show:
            super().on_epoch_begin(net, **kwargs)

    def on_batch_end(self, net, **kwargs):
        if self.pbar_ is not None:
            super().on_batch_end(net, **kwargs)

    def on_epoch_end(self, net, **kwargs):
        if self.pbar_ is not None:
            super().on_epoch_end(net, **kwargs)


class TrainingCheckpoint(Callback):
    """Save the training state after every epoch, and resume an interrupted fit from it.

    skorch's ``Checkpoint`` and ``LoadInitState`` keep the weights, the optimizer and the
    history; this keeps what the regressor needs besides to go on as if never stopped: the
    generator that shuffles and augments the batches, torch's global generator, and early
    stopping's count and best weights. A ``fit`` that dies (killed, the machine lost) and
    is started again with the same data, parameters and checkpoint goes on from its last
    finished epoch and ends where the uninterrupted fit would have: on the same machine
    and threads, with the same weights, bit for bit. Once its epochs are done, another
    ``fit`` trains nothing more; delete the file to train afresh. List it after your
    callbacks that write to the history (an ``EpochScoring``), so that it saves their
    figures too.

    Parameters
    ----------
    path : str or path-like
        The file the state is written to after every epoch (replaced whole, so a kill
        mid-write leaves the previous epoch's). It is read with
        ``torch.load(weights_only=True)``: tensors and plain values, no code.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skfkd import FacialKeypointRegressor
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.neural import TrainingCheckpoint
    >>> X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    >>> path = Path(tempfile.mkdtemp()) / "training.pt"
    >>> params = dict(max_epochs=2, train_split=None, random_state=0)
    >>> model = FacialKeypointRegressor(**params, callbacks=[("checkpoint", TrainingCheckpoint(path))])
    >>> len(model.fit(X, y).history_), path.exists()
    (2, True)
    >>> again = FacialKeypointRegressor(**params, callbacks=[("checkpoint", TrainingCheckpoint(path))])
    >>> len(again.fit(X, y).history_)  # its two epochs were done: none more
    2
    """

    def __init__(self, path):
        self.path = path

    def on_train_begin(self, net, X=None, **kwargs):
        self.first_epoch_ = len(net.history)
        self.last_epoch_ = self.first_epoch_ + net.max_epochs
        self.resumed_at_ = self.epochs_left_ = None
        self._fingerprint = {
            "first_epoch": self.first_epoch_,
            "last_epoch": self.last_epoch_,
            "n_samples": -1 if X is None else len(X),
            "batch_size": net.batch_size,
        }
        path = Path(self.path)
        if not path.exists():
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["fingerprint"] != self._fingerprint:
            raise ValueError(
                f"the training checkpoint {path} was written by another training ({state['fingerprint']}; this "
                f"one: {self._fingerprint}); delete it, or give this training another path"
            )
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        net.history.clear()
        net.history.extend(json.loads(state["history"]))
        net._generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        for name, callback in net.callbacks_:
            if isinstance(callback, EarlyStopping) and name in state["early_stopping"]:
                vars(callback).update(state["early_stopping"][name])
        self.resumed_at_ = len(net.history)
        # The regressor's fit_loop runs these instead of max_epochs.
        self.epochs_left_ = max(self.last_epoch_ - self.resumed_at_, 0)
        if net.verbose:
            print(f"Resuming from epoch {self.resumed_at_} of {self.last_epoch_} ({path})", flush=True)

    def on_epoch_end(self, net, **kwargs):
        state = {
            "fingerprint": self._fingerprint,
            "module": net.module_.state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            # JSON, as skorch's History.to_file writes it: its values include numpy scalars.
            "history": json.dumps(list(net.history), default=_plain),
            "generator": net._generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "early_stopping": {
                name: {
                    key: _plain(value) for key, value in vars(callback).items() if key in EARLY_STOPPING_STATE
                }
                for name, callback in net.callbacks_
                if isinstance(callback, EarlyStopping)
            },
        }
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        torch.save(state, partial)
        os.replace(partial, path)


def _plain(value):
    """A numpy scalar as the Python number it holds; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


# What skorch's EarlyStopping learns while it watches (its count, threshold and best weights).
EARLY_STOPPING_STATE = ("misses_", "dynamic_threshold_", "best_epoch_", "best_model_weights_")
