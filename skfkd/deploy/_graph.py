"""The torch module that export_onnx traces: raw pixel rows in, pixel keypoints out."""

from __future__ import annotations

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
    """What ``predict`` does, from raw pixel rows to pixel keypoints: the pipeline's
    :class:`~skfkd.preprocessing.ImageScaler` steps, then the regressor's own predict as
    :func:`skfkd.neural.predict_module` gives it (standardisation, the folded network,
    the flip test, the scale back to pixels), called, not copied, so that a change to
    predict reaches the export (checked against ``predict`` by the export and the tests).
    """

    def __init__(self, regressor, scalers):
        super().__init__()
        from skfkd.neural import predict_module

        self.scalers = nn.ModuleList(ImageScalerGraph(scaler) for scaler in scalers)
        self.predict = predict_module(regressor)

    def forward(self, images):
        rows = images.to(torch.float32)
        for scaler in self.scalers:
            rows = scaler(rows)
        return self.predict(rows)
