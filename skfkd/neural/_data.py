"""Training data as tensors, and the batches cut from them on the training device."""

from __future__ import annotations

import torch
from torch.utils.data import Subset

# Batch norm in training mode needs two samples per batch to compute a variance.
MIN_TRAINING_BATCH = 2


def batch_bounds(n_samples, batch_size, min_last=1):
    """``(start, stop)`` of each batch over ``n_samples`` ordered indices.

    A last batch smaller than ``min_last`` joins the batch before it, so nothing is
    dropped or repeated: with batch norm, a training batch of one sample has no variance
    to normalise with (``min_last=2``); across processes, each needs a sample of every
    batch. One merge is enough when ``batch_size >= min_last``.
    """
    starts = list(range(0, n_samples, batch_size))
    if len(starts) > 1 and n_samples - starts[-1] < min_last:
        starts.pop()
    return list(zip(starts, [*starts[1:], n_samples]))


class FaceTensors(torch.utils.data.Dataset):
    """Training images ``(n, c, h, w)`` and pixel targets ``(n, 2k)`` held as tensors.

    Batches are cut from these tensors by index (see :class:`BatchIterator`), so no Python
    work happens per sample; ``__getitem__`` only exists for the Dataset protocol.
    """

    def __init__(self, images, targets):
        self.images = images
        self.targets = targets

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.targets[index]


class BatchIterator:
    """Yields ``(images, scaled targets)`` batches on the training device.

    Training batches are shuffled with the regressor's own generator and augmented on the
    device, and a last training batch of one sample joins the one before it; validation
    batches are neither shuffled nor augmented.
    """

    def __init__(self, net, dataset, training):
        if isinstance(dataset, Subset):
            self.indices = torch.as_tensor(dataset.indices, dtype=torch.long)
            dataset = dataset.dataset
        else:
            self.indices = torch.arange(len(dataset))
        self.images, self.targets = dataset.images, dataset.targets
        self.net, self.training = net, training
        self.bounds = batch_bounds(len(self.indices), net.batch_size, MIN_TRAINING_BATCH if training else 1)

    def __len__(self):
        return len(self.bounds)

    def __iter__(self):
        net = self.net
        order = self.indices
        if self.training:
            order = order[torch.randperm(len(order), generator=net._generator)]
        for start, stop in self.bounds:
            yield self._batch(order[start:stop], net._generator)

    def _batch(self, index, generator):
        """Images and scaled targets of the samples ``index``, augmented when training,
        on the training device and in channels_last layout."""
        net = self.net
        index = index.to(self.images.device)
        images, targets = self.images[index], self.targets[index]
        if self.training and net.augmentation_ is not None:
            images, targets = net.augmentation_.augment_batch(images, targets, generator=generator)
        images = images.to(net.device_, non_blocking=True).contiguous(memory_format=torch.channels_last)
        return images, net._scale_targets(targets.to(net.device_, non_blocking=True))
