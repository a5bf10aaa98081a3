"""Data-parallel training across processes or GPUs with Hugging Face Accelerate."""

from __future__ import annotations

import os

import numpy as np
import torch
from skorch.callbacks import PrintLog
from skorch.hf import AccelerateMixin
from skorch.history import DistributedHistory

from skfkd.neural._callbacks import ProgressBar
from skfkd.neural._data import MIN_TRAINING_BATCH, BatchIterator, ImageRows, batch_bounds
from skfkd.neural._modules import KeypointAutoencoder
from skfkd.neural._regressor import FacialKeypointRegressor

__all__ = ["AcceleratedFacialKeypointRegressor"]


def shard_bounds(n_samples, global_batch_size, n_processes, min_per_process=1):
    """``(start, stop)`` of each global batch, in an order of ``n_samples`` indices.

    Every process must run the same number of steps (each step synchronises gradients),
    and each needs at least ``min_per_process`` samples per step (two in training, for
    batch norm): a last batch too small for that joins the batch before it. Nothing is
    dropped or repeated.
    """
    if global_batch_size < n_processes:
        raise ValueError(
            f"a batch of {global_batch_size} cannot be split among {n_processes} processes; "
            "raise batch_size (with Accelerator(split_batches=True) it is the batch of all processes)"
        )
    if n_samples < n_processes:
        raise ValueError(
            f"{n_samples} samples cannot be shared among {n_processes} processes; "
            "every process needs at least one sample in each training and validation step"
        )
    return batch_bounds(n_samples, global_batch_size, n_processes * min_per_process)


def _process_seed(shared_seed, process_index):
    """A seed of its own for each process, derived from one seed that all of them share."""
    sequence = np.random.SeedSequence(shared_seed, spawn_key=(process_index,))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def _shared_seed(net):
    """A seed drawn from the regressor's generator, the main process's for all processes.

    With an int ``random_state`` every process draws the same one anyway; without one,
    the processes' generators differ, and the shuffled order must not.
    """
    from accelerate.utils import broadcast_object_list

    seed = int(torch.randint(2**31 - 1, (1,), generator=net._generator))
    return broadcast_object_list([seed])[0]


class _ShardedBatchIterator(BatchIterator):
    """This process's part of each global batch.

    Every epoch, all processes shuffle the indices in the same order (a generator with a
    shared seed); each step takes the next global batch and gives each process a
    contiguous part of it, the sizes differing by one at most. Augmentation draws from a
    generator seeded for this process alone, so that processes transform their images
    independently. The global batch is ``batch_size`` samples per process, or
    ``batch_size`` in all with ``Accelerator(split_batches=True)``, as for the data
    loaders that Accelerate prepares.
    """

    def __init__(self, net, dataset, training):
        super().__init__(net, dataset, training)
        accelerator = net.accelerator
        self.process, self.n_processes = accelerator.process_index, accelerator.num_processes
        per_step = net.batch_size if accelerator.split_batches else net.batch_size * self.n_processes
        self.bounds = shard_bounds(
            len(self.indices), per_step, self.n_processes, MIN_TRAINING_BATCH if training else 1
        )
        if training:
            seed = _shared_seed(net)
            self.shuffle_generator = torch.Generator().manual_seed(seed)
            self.augmentation_generator = torch.Generator().manual_seed(_process_seed(seed, self.process))

    def __len__(self):
        return len(self.bounds)

    def __iter__(self):
        order = self.indices
        if self.training:
            order = order[torch.randperm(len(order), generator=self.shuffle_generator)]
        generator = self.augmentation_generator if self.training else None
        for start, stop in self.bounds:
            index = torch.tensor_split(order[start:stop], self.n_processes)[self.process]
            yield self._batch(index, generator)


class _MainProcessProgressBar(ProgressBar):
    """The progress bar of the main process only: the others would print the same bar."""

    def on_epoch_begin(self, net, **kwargs):
        if net.accelerator.is_main_process:
            super().on_epoch_begin(net, **kwargs)
        else:
            self.pbar_ = None


class _MainProcessPrintLog(PrintLog):
    """The per-epoch log of the main process only."""

    def on_epoch_end(self, net, **kwargs):
        if net.accelerator.is_main_process:
            super().on_epoch_end(net, **kwargs)


class _ProcessGroupHistory(DistributedHistory):
    """skorch's DistributedHistory on a key-value store of its own for one training.

    The main process serves the store on a free port and tells the others which; a fresh
    store per training keeps one training's records from answering another's.
    """

    @classmethod
    def for_accelerator(cls, accelerator):
        from accelerate.utils import broadcast_object_list
        from torch.distributed import TCPStore

        host = os.environ.get("MASTER_ADDR", "127.0.0.1")
        n = accelerator.num_processes
        store = (
            TCPStore(host, 0, n, is_master=True, wait_for_workers=False)
            if accelerator.is_main_process
            else None
        )
        port = broadcast_object_list([store.port if store is not None else None])[0]
        if store is None:
            store = TCPStore(host, port, n, is_master=False)
        return cls(store=store, rank=accelerator.process_index, world_size=n)


class AcceleratedFacialKeypointRegressor(AccelerateMixin, FacialKeypointRegressor):
    """:class:`~skfkd.FacialKeypointRegressor` trained data-parallel with Accelerate.

    Run the same script in every process, under ``accelerate launch --num_processes N
    script.py`` (``--cpu`` for CPU processes, which talk over gloo), and each process
    trains the one model on its part of every batch, with gradients averaged across
    processes (torch's DistributedDataParallel, prepared by the ``accelerator``). Outside
    a launcher it trains in the one process, as the plain regressor does. Every other
    parameter is :class:`~skfkd.FacialKeypointRegressor`'s.

    What changes with several processes:

    - **Batches.** Every epoch all processes shuffle in the same order and each takes its
      part of every batch, so each sample is seen once per epoch. ``batch_size`` is per
      process, as in Accelerate's data loaders: ``N`` processes take ``N * batch_size``
      samples a step, and so ``N`` times fewer steps an epoch (consider raising ``lr``).
      ``Accelerator(split_batches=True)`` keeps ``batch_size`` samples a step in all.
    - **Loss.** The keypoint loss (and ``heatmap_weight``'s term) is a mean over
      annotated coordinates, and processes hold different numbers of them; each process
      weighs its part by its share of the annotated coordinates (and, for the
      reconstruction term, of the images) of the whole step, so the averaged gradient is
      the gradient of the loss on the whole step. The losses in ``history_`` are those of
      whole steps too.
    - **Randomness.** Each process draws its own augmentation and dropout from a seed
      derived from ``random_state`` and its process index: seeded runs repeat, and
      processes do not repeat each other's transforms.
    - **History.** ``history_`` is skorch's ``DistributedHistory``: every process sees
      every batch, so early stopping and the learning-rate schedule decide alike.
    - **Output.** Only the main process prints the log and the progress bar; write files
      from ``accelerator.is_main_process`` only.

    After training the network is unwrapped (``unwrap_after_train``) and every process
    holds the same fitted model. Pickling keeps the fitted model and drops the
    accelerator, which belongs to the launched processes: a saved model loads and
    predicts in any single process; set ``accelerator`` again to train it further.

    Parameters
    ----------
    module : torch module class, default=KeypointAutoencoder
        As for :class:`~skfkd.FacialKeypointRegressor`.
    accelerator : accelerate.Accelerator
        Sets the processes, devices and precision, for example ``Accelerator()`` under
        ``accelerate launch``, or ``Accelerator(cpu=True)``.
    device : None, default=None
        The accelerator places the model and the data (each process on its own GPU,
        ``accelerator.device``), so leave it None.
    unwrap_after_train : bool, default=True
        Restore the plain network after training, so that the model pickles and
        predicts without the accelerator.
    **kwargs
        :class:`~skfkd.FacialKeypointRegressor`'s parameters.

    Attributes
    ----------
    history_ : skorch DistributedHistory or History
        The shared history with several processes, a plain one with one.
    device_ : str
        ``accelerator.device``.

    See Also
    --------
    skfkd.FacialKeypointRegressor : the single-process regressor, with every other
        parameter and attribute.

    Examples
    --------
    >>> from accelerate import Accelerator
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.neural import AcceleratedFacialKeypointRegressor
    >>> X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    >>> model = AcceleratedFacialKeypointRegressor(
    ...     accelerator=Accelerator(cpu=True), max_epochs=2, random_state=0
    ... ).fit(X, y)
    >>> model.predict(X[:2]).shape
    (2, 30)
    """

    def __init__(
        self, module=KeypointAutoencoder, *, accelerator, device=None, unwrap_after_train=True, **kwargs
    ):
        # print, which PrintLog silences unless verbose, rather than AccelerateMixin's
        # accelerator.print, which it calls whatever verbose says (and which would pickle
        # the accelerator with the model); _MainProcessPrintLog keeps the other processes quiet.
        kwargs.setdefault("callbacks__print_log__sink", print)
        super().__init__(
            module, accelerator=accelerator, device=device, unwrap_after_train=unwrap_after_train, **kwargs
        )

    @property
    def _default_callbacks(self):
        main_process_only = {"print_log": _MainProcessPrintLog, "progress_bar": _MainProcessProgressBar}
        return [
            (name, main_process_only[name]() if name in main_process_only else callback)
            for name, callback in super()._default_callbacks
        ]

    @property
    def _distributed(self):
        return self.accelerator.num_processes > 1

    def initialize(self):
        if self.accelerator is None:
            raise ValueError(
                "accelerator is None (a loaded model keeps no accelerator); "
                "set_params(accelerator=accelerate.Accelerator()) before training"
            )
        # The accelerator places everything; device_ is where it put this process
        # ("cpu", not Accelerate's "cpu:0", which torch cannot load onto).
        device = self.accelerator.device
        self.device_ = "cpu" if device.type == "cpu" else str(device)
        return super().initialize()

    def _initialize_accelerator(self):
        if self._wrapped_with_accelerator:
            return self
        # DistributedDataParallel waits for a gradient of every trainable parameter, and
        # without the reconstruction term the decoder gets none: it trains only with it.
        decoder = getattr(self.module_, "decoder", None)
        if isinstance(decoder, torch.nn.Module):
            decoder.requires_grad_(bool(self.autoencoder_weight))
        # AccelerateMixin prepares the criterion like the network, but the loss has no
        # parameters, and DistributedDataParallel refuses a module without any.
        criteria = self._criteria
        self._criteria = [
            name
            for name in criteria
            if any(parameter.requires_grad for parameter in getattr(self, name + "_").parameters())
        ]
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    def initialize_history(self):
        # A user's own DistributedHistory is kept; any other history would let the
        # processes' records, and so their early-stopping decisions, drift apart.
        ours = self.history_ is None or isinstance(self.history_, _ProcessGroupHistory)
        if self._distributed and (ours or not isinstance(self.history_, DistributedHistory)):
            self.history_ = _ProcessGroupHistory.for_accelerator(self.accelerator)
            return self
        return super().initialize_history()

    def get_iterator(self, dataset, training=False):
        # Not AccelerateMixin's: it prepares DataLoaders, and these batches are cut from
        # tensors (see _ShardedBatchIterator). predict runs whole in each process (and in a
        # loaded model, which keeps no accelerator).
        if isinstance(dataset, ImageRows) or self.accelerator is None:
            return BatchIterator(self, dataset, training)
        return _ShardedBatchIterator(self, dataset, training)

    def evaluation_step(self, batch, training=False):
        # predict's batches are not sharded (each process predicts everything, see
        # get_iterator): nothing to gather from the other processes, unlike AccelerateMixin.
        return super(AccelerateMixin, self).evaluation_step(batch, training=training)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if not self._distributed:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        # Dropout of its own in each process, without touching the caller's generators.
        device = self.accelerator.device
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(_process_seed(_shared_seed(self), self.accelerator.process_index))
            return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if not self._distributed:
            return loss
        # Torch averages the processes' gradients; weigh each process's means by its
        # share of the step's annotated coordinates (the keypoint and heatmap terms, both
        # means over annotated points) and images (the reconstruction), so that the average
        # is the gradient of the loss on the whole step.
        keypoints, _, *heatmaps = y_pred if isinstance(y_pred, tuple) else (y_pred, None)
        keypoint_loss = super().get_loss((keypoints, None, *heatmaps), y_true, X=X, training=training)
        counts = torch.stack([(~torch.isnan(y_true)).sum(), torch.tensor(len(y_true), device=y_true.device)])
        totals = self.accelerator.reduce(counts.float(), reduction="sum")
        shares = counts.float() / totals.clamp(min=1) * self.accelerator.num_processes
        return shares[0] * keypoint_loss + shares[1] * (loss - keypoint_loss)

    def _step_loss(self, step):
        """The loss of the whole step, the same in every process, in place of this process's part."""
        if self._distributed:
            step["loss"] = self.accelerator.reduce(step["loss"].detach(), reduction="mean")
        return step

    def train_step_single(self, batch, **fit_params):
        return self._step_loss(super().train_step_single(batch, **fit_params))

    def validation_step(self, batch, **fit_params):
        return self._step_loss(super().validation_step(batch, **fit_params))

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # Continued training (partial_fit, warm_start) finds the network unwrapped by
        # the last training: wrap it again, or each process would train its own copy.
        self._initialize_accelerator()
        return super().on_train_begin(net, X=X, y=y, **kwargs)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # AccelerateMixin unwraps the network here, before the callbacks' on_train_end,
        # where early stopping restores the best weights that it saved from the wrapped
        # network; notify unwraps after them instead.
        self.accelerator.wait_for_everyone()
        return super(AccelerateMixin, self).on_train_end(net, X=X, y=y, **kwargs)

    def notify(self, method_name, **cb_kwargs):
        super().notify(method_name, **cb_kwargs)
        if method_name == "on_train_end" and self.unwrap_after_train:
            self._unwrap_accelerator()

    def __getstate__(self):
        state = super().__getstate__()
        state["accelerator"] = None
        if str(state.get("device_")).startswith("cuda"):
            state["device_"] = "cuda"  # this process's GPU number means nothing where it loads
        return state
