"""The torch module that export_onnx traces: raw pixel rows in, pixel keypoints out."""

from __future__ import annotations

import copy

import torch
from torch import nn


class ImageScalerGraph(nn.Module):
    """:class:`~skfkd.preprocessing.ImageScaler`'s transform of rows of pixels, in torch."""

    def __init__(self, scaler):
        super().__init__()
        self.method, self.max_value = scaler.method, float(scaler.max_value_)

    def forward(self, rows):
        if self.method == "unit":
            return rows / self.max_value
        # As ImageScaler does: statistics in float64, constant rows to zeros.
        rows = rows.to(torch.float64)
        centred = rows - rows.mean(dim=1, keepdim=True)
        std = centred.square().mean(dim=1, keepdim=True).sqrt()
        constant = std <= 1e-6 * rows.abs().amax(dim=1, keepdim=True)
        scaled = torch.where(constant, torch.zeros_like(centred), centred / torch.where(constant, 1.0, std))
        return scaled.to(torch.float32)


class KeypointGraph(nn.Module):
    """What ``predict`` does, through the regressor's own torch code.

    The regressor's ``_standardise``, inference network, ``_merge_mirrored`` (flip test)
    and ``_unscale_targets`` are called, not copied, so that a change to them reaches the
    export (checked against ``predict`` by the export and the tests).
    """

    def __init__(self, regressor, scalers):
        super().__init__()
        self.scalers = nn.ModuleList(ImageScalerGraph(scaler) for scaler in scalers)
        # A CPU copy of predict's network: the fitted model (perhaps on CUDA) stays as it is.
        self.network = copy.deepcopy(regressor._inference_network()).to("cpu")
        self.regressor = regressor  # a plain attribute, not a submodule
        self.image_shape = tuple(int(side) for side in regressor.image_shape_)
        self.flip_test = bool(regressor.flip_test)

    def forward(self, images):
        rows = images.to(torch.float32)
        for scaler in self.scalers:
            rows = scaler(rows)
        n = rows.shape[0]
        batch = self.regressor._standardise(rows.reshape(n, *self.image_shape))
        if self.flip_test:
            batch = torch.cat([batch, torch.flip(batch, dims=[3])])  # one pass for both
        scaled, _ = self.network(batch, reconstruct=False)
        if self.flip_test:
            scaled = self.regressor._merge_mirrored(scaled[:n], scaled[n:])
        return self.regressor._unscale_targets(scaled)
