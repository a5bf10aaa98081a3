"""The training objective: masked keypoint error plus image reconstruction error."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["masked_mse", "masked_keypoint_loss", "KeypointAutoencoderLoss", "KEYPOINT_LOSSES"]

# Wing loss (Feng et al., CVPR 2018) in the regressor's [-1, 1] target units, where one
# pixel of a 96-pixel image is about 0.02: logarithmic (steep) for errors under ~5 px so
# small errors keep pulling, linear beyond so outliers do not dominate.
_WING_WIDTH = 0.1
_WING_CURVATURE = 0.02
_WING_OFFSET = _WING_WIDTH - _WING_WIDTH * math.log1p(_WING_WIDTH / _WING_CURVATURE)


def _wing(difference):
    size = difference.abs()
    return torch.where(
        size < _WING_WIDTH, _WING_WIDTH * torch.log1p(size / _WING_CURVATURE), size - _WING_OFFSET
    )


KEYPOINT_LOSSES = {
    "mse": torch.square,
    "l1": torch.abs,
    # Quadratic below ~1 px (0.02), linear above.
    "smooth_l1": lambda d: F.smooth_l1_loss(d, torch.zeros_like(d), reduction="none", beta=0.02),
    "wing": _wing,
}


def masked_keypoint_loss(prediction, target, kind="mse"):
    """Mean of ``KEYPOINT_LOSSES[kind]`` over the coordinates whose target is not NaN.

    Unannotated coordinates contribute neither error nor gradient; a batch with no
    annotated coordinate has zero keypoint loss.
    """
    annotated = ~torch.isnan(target)
    difference = torch.where(annotated, prediction - torch.nan_to_num(target), 0.0)
    return KEYPOINT_LOSSES[kind](difference).sum() / annotated.sum().clamp(min=1)


def masked_mse(prediction, target):
    """Mean squared error over the coordinates whose target is not NaN."""
    return masked_keypoint_loss(prediction, target, "mse")


class KeypointAutoencoderLoss(nn.Module):
    """``keypoint loss + autoencoder_weight * mse(reconstruction, image)``.

    The keypoint loss runs over annotated coordinates only. A reconstruction smaller than
    the image is compared with the image averaged down to its size.

    Parameters
    ----------
    autoencoder_weight : float, default=0.1
        Weight of the reconstruction term; 0 trains the plain CNN.
    keypoint_loss : {"mse", "l1", "smooth_l1", "wing"}, default="mse"
        Error on each annotated coordinate, in [-1, 1] target units.

    Examples
    --------
    >>> import torch
    >>> from skfkd.neural import KeypointAutoencoderLoss
    >>> loss = KeypointAutoencoderLoss(autoencoder_weight=0.5)
    >>> target = torch.tensor([[0.5, float("nan")]])
    >>> images = torch.zeros(1, 1, 2, 2)
    >>> loss((torch.tensor([[0.0, 9.0]]), torch.ones(1, 1, 2, 2)), target, images)
    tensor(0.7500)
    """

    def __init__(self, autoencoder_weight=0.1, keypoint_loss="mse"):
        super().__init__()
        if keypoint_loss not in KEYPOINT_LOSSES:
            raise ValueError(f"keypoint_loss must be one of {sorted(KEYPOINT_LOSSES)}; got {keypoint_loss!r}")
        self.autoencoder_weight = autoencoder_weight
        self.keypoint_loss = keypoint_loss

    def forward(self, outputs, target, images):
        keypoints, reconstruction = outputs
        loss = masked_keypoint_loss(keypoints.float(), target, self.keypoint_loss)
        if self.autoencoder_weight and reconstruction is not None:
            images = images.float()
            if reconstruction.shape[-2:] != images.shape[-2:]:
                # A down-scaled reconstruction is compared with the down-scaled input.
                images = F.adaptive_avg_pool2d(images, reconstruction.shape[-2:])
            loss = loss + self.autoencoder_weight * (reconstruction.float() - images).square().mean()
        return loss
