"""Training data as tensors, the batches cut from them on the training device, and the
regressor's data hooks and input checks."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples, check_array, validate_data
from skorch.dataset import Dataset
from torch.utils.data import Subset

from skfkd._images import as_image_stack, infer_image_shape, split_channels
from skfkd.neural._inference import standardise

# Batch norm in training mode needs two samples per batch to compute a variance.
MIN_TRAINING_BATCH = 2
# Pixels beyond this overflow float32, the network's precision.
FLOAT32_MAX = float(np.finfo(np.float32).max)


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


class FaceTensors(Dataset):
    """Training images ``(n, c, h, w)`` (standardised) and pixel targets ``(n, 2k)`` held
    as tensors, as skorch's ``Dataset`` holds ``X`` and ``y``.

    Batches are cut from these tensors by index (see :class:`BatchIterator`), so no Python
    work happens per sample; ``__getitem__`` only exists for the Dataset protocol. Being a
    skorch ``Dataset``, it gives ``EpochScoring`` the validation targets in pixels.
    """

    def __init__(self, images, targets):
        self.X, self.y, self._len = images, targets, len(images)

    def __len__(self):
        return self._len

    def __getitem__(self, index):
        return self.X[index], self.y[index]


class ImageRows(Dataset):
    """Images to predict on, as given (rows of pixels, a stack, a list): checked,
    converted and standardised one batch at a time by :class:`BatchIterator`, so
    prediction never holds more than one batch beyond the input."""

    def __init__(self, X):
        self.X, self.y, self._len = X, None, _num_samples(X)

    def __len__(self):
        return self._len

    def __getitem__(self, index):
        return self.X[index], None


class BatchIterator:
    """Yields ``(images, pixel targets)`` batches on the training device.

    Training batches are shuffled with the regressor's own generator and augmented on the
    device, and a last training batch of one sample joins the one before it; validation
    batches are neither shuffled nor augmented. Batches of :class:`ImageRows` (prediction)
    are checked and standardised as they are cut, with ``None`` for targets.
    """

    def __init__(self, net, dataset, training):
        if isinstance(dataset, Subset):
            self.indices = torch.as_tensor(dataset.indices, dtype=torch.long)
            dataset = dataset.dataset
        else:
            self.indices = torch.arange(len(dataset))
        self.dataset, self.net, self.training = dataset, net, training
        batch_size = net.batch_size if training else net.batch_size_predict
        self.bounds = batch_bounds(len(self.indices), batch_size, MIN_TRAINING_BATCH if training else 1)

    def __len__(self):
        return len(self.bounds)

    def __iter__(self):
        net = self.net
        order = self.indices
        if self.training:
            order = order[torch.randperm(len(order), generator=net._generator)]
        for start, stop in self.bounds:
            if isinstance(self.dataset, ImageRows):
                yield net._images_for_network(_safe_indexing(self.dataset.X, slice(start, stop))), None
            else:
                yield self._batch(order[start:stop], net._generator)

    def _batch(self, index, generator):
        """Images and pixel targets of the samples ``index``, augmented when training, on
        the training device and in channels_last layout."""
        net = self.net
        index = index.to(self.dataset.X.device)
        images, targets = self.dataset.X[index], self.dataset.y[index]
        if self.training and net.augmentation_ is not None:
            images, targets = net.augmentation_.augment_batch(images, targets, generator=generator)
        images = images.to(net.device_, non_blocking=True).contiguous(memory_format=torch.channels_last)
        return images, targets.to(net.device_, non_blocking=True)


class DataHooks:
    """Mixed into the regressor: skorch's data hooks (``get_dataset``, ``get_split_datasets``,
    ``get_iterator``) and the checks of ``X`` and ``y`` they rely on."""

    def get_dataset(self, X, y=None):
        """Faces to train on as tensors on the training device (:class:`FaceTensors`), or
        images to predict on, checked batch by batch (:class:`ImageRows`); a torch
        ``Dataset`` (such as a validation split) as it is."""
        if isinstance(X, torch.utils.data.Dataset):
            return X
        if y is None:
            return ImageRows(X)
        device = self.device_ if str(self.device_).startswith("cuda") else "cpu"
        images = self._images_for_network(X).to(device)
        # A copy: y may be a read-only view (pandas, joblib's memory maps), which torch warns on.
        return FaceTensors(images, torch.tensor(np.asarray(y), dtype=torch.float32, device=device))

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        if dataset_valid is not None and len(dataset_train) < MIN_TRAINING_BATCH:
            warnings.warn(
                f"{len(dataset_train) + len(dataset_valid)} samples are too few for a validation split (it "
                f"would leave {len(dataset_train)} to train on); training on all of them, without early stopping",
                UserWarning,
                stacklevel=2,
            )
            return self.get_dataset(X, y), None
        return dataset_train, dataset_valid

    def get_iterator(self, dataset, training=False):
        return BatchIterator(self, dataset, training)

    def _validate_X(self, X, reset):
        """``X`` checked and as an image stack: ``(n, h, w)`` gray or ``(n, h, w, 3)`` RGB."""
        X = np.asarray(X) if not hasattr(X, "shape") else X
        if getattr(X, "ndim", None) in (3, 4):
            stack = check_array(X, allow_nd=True, dtype=(np.float32, np.float64), ensure_all_finite=True)
            stack = as_image_stack(stack, allow_colour=True)
            if not reset and hasattr(self, "n_features_in_") and stack.shape[1:] != self._input_shape:
                raise ValueError(
                    f"X holds {_described(stack.shape[1:])} images but the model was fitted on "
                    f"{_described(self._input_shape)} images"
                )
            X = stack.reshape(len(stack), -1)
            image_shape = stack.shape[1:]
        else:
            image_shape = None
        X = validate_data(self, X, reset=reset, dtype=(np.float32, np.float64), ensure_min_samples=1)
        if X.dtype == np.float64 and np.abs(X).max(initial=0) > FLOAT32_MAX:
            value = X.flat[np.argmax(np.abs(X))]
            raise ValueError(
                f"X holds the pixel value {value:.4g}, beyond the range of float32 (about ±3.4e38), in which "
                "the network computes; scale the images first (skfkd.preprocessing.ImageScaler)"
            )
        if reset:
            shape = image_shape or infer_image_shape(X.shape[1], self.image_shape, allow_colour=True)
            self.image_shape_, self.n_channels_ = split_channels(shape)
        return as_image_stack(X, self._input_shape, allow_colour=True)

    @property
    def _input_shape(self):
        """The fitted images' shape: ``(h, w)`` gray, ``(h, w, 3)`` RGB."""
        return tuple(self.image_shape_) if self.n_channels_ == 1 else (*self.image_shape_, self.n_channels_)

    def _validate_y(self, y, n_samples, *, require_every_column=True):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None; "
                "pass keypoints (NaN where not annotated)"
            )
        y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite="allow-nan", input_name="y")
        if y.ndim != 2 or y.shape[1] % 2:
            raise ValueError(
                f"y must be (n_samples, 2 * n_keypoints) with x, y columns per keypoint; got shape {y.shape}"
            )
        if len(y) != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {len(y)}")
        if np.isinf(y).any():
            raise ValueError("y contains infinity; use NaN for unannotated coordinates")
        empty = np.flatnonzero(np.isnan(y).all(axis=0))
        if require_every_column and len(empty):
            raise ValueError(
                f"y columns {empty[:10].tolist()} have no annotated value; the model cannot learn them"
            )
        return y

    def _images_for_network(self, X):
        """Checked images, standardised for the network: ``(n, c, h, w)`` float32 on the CPU."""
        checked = isinstance(X, np.ndarray) and X.dtype == np.float32 and X.shape[1:] == self._input_shape
        images = X if checked else self._validate_X(X, reset=False)
        # Writable as well as contiguous: torch warns on read-only arrays (joblib's
        # memory-mapped inputs in parallel model selection), which only those copy.
        images = np.require(images, dtype=np.float32, requirements=["C", "W"])
        return standardise(torch.from_numpy(images), self.standardize, self.input_mean_, self.input_std_)


def _described(shape):
    return f"{shape[0]}x{shape[1]} RGB" if len(shape) == 3 else f"{shape[0]}x{shape[1]} gray"
