"""What predict computes, in torch: input standardisation, the batch-norm-folded network,
the mirrored pass of the flip test, and the scale between [-1, 1] and pixels.

The regressor's predict and :func:`predict_module` (the export hook that
:func:`skfkd.deploy.export_onnx` traces) are built from the same functions here, so they
cannot drift apart.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from skfkd.neural._modules import fold_batch_norm

__all__ = ["predict_module"]

# Inference copies of fitted networks, by network: kept outside the estimator so that
# predict leaves it unchanged (and pickles stay small), and gone with the network.
_INFERENCE_NETWORKS = weakref.WeakKeyDictionary()


def target_size(image_shape, n_outputs):
    """``(2k,)`` tensor of the image width and height under each x and y column."""
    height, width = image_shape
    return torch.tensor([width, height], dtype=torch.float32).repeat(n_outputs // 2)


def scale_targets(targets, size):
    """Pixels to [-1, 1]: image edges map to -1 and 1, pixel centres sit at integers."""
    return (targets + 0.5) / size.to(targets.device) * 2 - 1


def unscale_targets(scaled, size):
    """[-1, 1] back to pixels."""
    return (scaled + 1) / 2 * size.to(scaled.device, scaled.dtype) - 0.5


def standardise(images, standardize, input_mean, input_std):
    """Raw pixels ``(n, h, w)``, or RGB ``(n, h, w, 3)``, (float32) to the network's input
    ``(n, c, h, w)``; "image" standardises each image over all its channels at once, so
    that colour balance survives."""
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    if standardize == "dataset":
        return (images - input_mean) / input_std
    # In float64: squares of large float32 pixels (above ~1e19) overflow float32.
    images = images.to(torch.float64)
    centred = images - images.mean(dim=(1, 2, 3), keepdim=True)
    spread = centred.square().mean(dim=(1, 2, 3), keepdim=True).sqrt()
    # A (nearly) constant image has no spread to divide by: it stays (nearly) zero
    # rather than having its rounding noise blown up.
    return (centred / spread.clamp_min(1e-3 * input_std)).to(torch.float32)


def merge_mirrored(scaled, mirrored, flip_permutation, keep_position=False):
    """Average predictions ``(n, 2k)`` on images and on their mirror images.

    The mirror image's points swap sides through the layout's flip pairs, and its x
    coordinates change sign (x -> -x is the mirror in [-1, 1] coordinates). With
    ``keep_position``, the average is moved so that the mean of its points is that of
    the plain prediction: the mirrored pass then corrects the shape alone.
    """
    points = scaled.unflatten(1, (-1, 2))
    mirrored = mirrored.unflatten(1, (-1, 2))[:, flip_permutation]
    mirrored = mirrored * torch.tensor([-1.0, 1.0], dtype=mirrored.dtype, device=mirrored.device)
    merged = (points + mirrored) / 2
    if keep_position:
        merged = merged + (points - mirrored).mean(dim=1, keepdim=True) / 2
    return merged.flatten(1)


def inference_network(module):
    """An eval-mode copy of ``module`` with batch norm folded into the convolutions (fewer
    passes over the feature maps), made again whenever the weights change.

    Training, ``load_params`` and ``load_state_dict`` all write the parameters and buffers
    in place, which bumps their version counters, so the cache key sees them.
    """
    cached = _INFERENCE_NETWORKS.get(module)
    # The tensors are listed once per network (walking the modules costs more than a
    # one-face prediction's arithmetic); in-place writes keep the same tensors.
    tensors = cached[0] if cached is not None else [*module.parameters(), *module.buffers()]
    key = [(t.data_ptr(), t._version) for t in tensors]
    if cached is None or cached[1] != key:
        cached = _INFERENCE_NETWORKS[module] = (tensors, key, fold_batch_norm(module))
    return cached[2]


def keypoints_of(network, batch, flip_permutation=None, channels_last=False, keep_position=False):
    """Scaled keypoints ``(n, 2k)`` of a standardised batch, with the flip test when given
    the flip permutation (one pass for the batch and its mirror image together; see
    :func:`merge_mirrored` for ``keep_position``).

    ``channels_last`` pays for batches of several images on the CPU; one image is faster
    without the copy. (The choice is the caller's: a branch on the batch size here would
    pin the exported graph's batch size.)
    """
    n = batch.shape[0]
    if flip_permutation is not None:
        batch = torch.cat([batch, torch.flip(batch, dims=[3])])
    if channels_last:
        batch = batch.contiguous(memory_format=torch.channels_last)
    keypoints, _ = network(batch, reconstruct=False)
    keypoints = keypoints.float()
    if flip_permutation is not None:
        keypoints = merge_mirrored(keypoints[:n], keypoints[n:], flip_permutation, keep_position)
    return keypoints


class _PredictModule(nn.Module):
    """Raw pixel rows ``(n, h*w)`` (``(n, h*w*3)`` for RGB, channels last) in, pixel
    keypoints ``(n, 2k)`` out: a regressor's predict, on the CPU, as one torch module."""

    def __init__(self, regressor):
        super().__init__()
        self.network = _cpu_copy(inference_network(regressor.module_))
        self.image_shape = tuple(int(side) for side in regressor._input_shape)
        self.standardize = regressor.standardize
        self.input_mean, self.input_std = float(regressor.input_mean_), float(regressor.input_std_)
        self.flip = regressor._flip_permutation()
        self.keep_position = regressor.flip_test == "shape"
        self.register_buffer("size", target_size(regressor.image_shape_, regressor.n_outputs_))

    def forward(self, rows):
        images = rows.to(torch.float32).reshape(rows.shape[0], *self.image_shape)
        batch = standardise(images, self.standardize, self.input_mean, self.input_std)
        keypoints = keypoints_of(self.network, batch, self.flip, keep_position=self.keep_position)
        return unscale_targets(keypoints, self.size)


def _cpu_copy(network):
    import copy

    return copy.deepcopy(network).to("cpu")


def predict_module(regressor):
    """A fitted regressor's ``predict`` as one torch module, for export.

    The module takes raw pixel rows ``(n, h*w)``, or ``(n, h*w*3)`` for a model fitted on
    RGB images (each row a ``(h, w, 3)`` image, channels last), (float32, any ``n``) and returns pixel
    keypoints ``(n, 2 * n_keypoints)``: the regressor's input standardisation, its network
    with batch norm folded into the convolutions, the flip test when ``flip_test=True``,
    and the scale back to pixels, computed by the same functions as ``predict``. It runs
    on the CPU, leaving the fitted regressor as it is. :func:`skfkd.deploy.export_onnx`
    traces it.

    Parameters
    ----------
    regressor : FacialKeypointRegressor
        Fitted.

    Returns
    -------
    module : torch.nn.Module
        In eval mode.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skfkd import FacialKeypointRegressor
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.neural import predict_module
    >>> X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    >>> model = FacialKeypointRegressor(max_epochs=1, random_state=0).fit(X, y)
    >>> with torch.inference_mode():
    ...     keypoints = predict_module(model)(torch.as_tensor(X[:4], dtype=torch.float32))
    >>> bool(np.allclose(keypoints.numpy(), model.predict(X[:4]), atol=1e-4))
    True
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(regressor, "n_outputs_")
    return _PredictModule(regressor).eval()
