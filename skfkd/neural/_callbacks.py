"""The regressor's default skorch callbacks, each one job."""

from __future__ import annotations

import math

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
