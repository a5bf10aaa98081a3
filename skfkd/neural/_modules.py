"""Torch modules: a convolutional encoder, a decoder, and the keypoint autoencoder."""

from __future__ import annotations

import math

from torch import nn
from torch.nn import functional as F

__all__ = ["ConvEncoder", "ConvDecoder", "KeypointAutoencoder"]


def _conv_block(in_channels, out_channels, stride):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ConvEncoder(nn.Module):
    """Compress a face image into a latent vector.

    Every stage halves the resolution (stride-2 convolutions from the first layer on:
    early down-sampling keeps the cost low on a CPU), then the feature map is pooled to
    a small fixed grid, flattened and projected to ``latent_dim``.

    Parameters
    ----------
    image_shape : (int, int)
        Height and width of the input images.
    in_channels : int, default=1
        Channels of the input images.
    widths : tuple of int, default=(24, 48, 96, 128, 160)
        Output channels of the stride-2 stages, one stage each.
    latent_dim : int, default=128
        Size of the latent vector.
    dropout : float, default=0.1
        Dropout before the projection to the latent vector.

    Examples
    --------
    >>> import torch
    >>> from skfkd.neural import ConvEncoder
    >>> encoder = ConvEncoder((96, 96), latent_dim=32)
    >>> encoder(torch.zeros(2, 1, 96, 96)).shape
    torch.Size([2, 32])
    """

    def __init__(
        self, image_shape, in_channels=1, widths=(24, 48, 96, 128, 160), latent_dim=128, dropout=0.1
    ):
        super().__init__()
        channels = [in_channels, *widths]
        self.stages = nn.Sequential(
            *(_conv_block(a, b, stride=2) for a, b in zip(channels[:-1], channels[1:]))
        )
        self.grid = _grid_shape(image_shape, len(widths))
        self.pool = nn.AdaptiveAvgPool2d(self.grid)
        self.project = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(widths[-1] * self.grid[0] * self.grid[1], latent_dim),
            nn.ReLU(inplace=True),
        )

    def forward(self, images):
        return self.project(self.pool(self.stages(images)))


def _grid_shape(image_shape, n_stages):
    """The feature-map size after ``n_stages`` halvings (at least 1x1)."""
    return tuple(max(1, math.ceil(side / 2**n_stages)) for side in image_shape)


class ConvDecoder(nn.Module):
    """Reconstruct an image from a latent vector: the mirror of :class:`ConvEncoder`.

    Each stage doubles the resolution (nearest up-sampling and a convolution); a last
    bilinear resize lands on ``output_shape`` exactly.

    Parameters
    ----------
    output_shape : (int, int)
        Height and width of the reconstruction.
    out_channels : int, default=1
        Channels of the reconstruction.
    widths : tuple of int, default=(64, 32, 16)
        Channels of the up-sampling stages, from the coarsest to the finest.
    latent_dim : int, default=128
        Size of the latent vector.

    Examples
    --------
    >>> import torch
    >>> from skfkd.neural import ConvDecoder
    >>> decoder = ConvDecoder((48, 48), latent_dim=32)
    >>> decoder(torch.zeros(2, 32)).shape
    torch.Size([2, 1, 48, 48])
    """

    def __init__(self, output_shape, out_channels=1, widths=(64, 32, 16), latent_dim=128):
        super().__init__()
        self.output_shape = tuple(output_shape)
        self.grid = _grid_shape(output_shape, len(widths))
        self.expand = nn.Sequential(
            nn.Linear(latent_dim, widths[0] * self.grid[0] * self.grid[1]), nn.ReLU(True)
        )
        self.first_width = widths[0]
        blocks = []
        for a, b in zip(widths, [*widths[1:], widths[-1]]):
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), _conv_block(a, b, stride=1)]
        self.stages = nn.Sequential(*blocks)
        self.output = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, latent):
        features = self.expand(latent).view(len(latent), self.first_width, *self.grid)
        features = self.stages(features)
        if features.shape[-2:] != self.output_shape:
            # The grid was rounded up, so one last resize lands on the exact size.
            features = F.interpolate(features, size=self.output_shape, mode="bilinear", align_corners=False)
        return self.output(features)


class KeypointAutoencoder(nn.Module):
    """A CNN whose features pass through an autoencoder bottleneck into a keypoint head.

    The encoder compresses the face into a latent vector; a fully connected head
    regresses the ``n_outputs`` keypoint coordinates (in [-1, 1]) from it, and a decoder
    reconstructs the input image from the same vector, an auxiliary objective that also
    lets unlabelled faces train the encoder.

    Parameters
    ----------
    image_shape : (int, int)
        Height and width of the input images.
    n_outputs : int
        Number of coordinates to regress (``2 * n_keypoints``).
    latent_dim : int, default=128
        Size of the bottleneck.
    widths : tuple of int, default=(24, 48, 96, 128, 160)
        Encoder stage widths (see :class:`ConvEncoder`).
    decoder_widths : tuple of int, default=(64, 32, 16)
        Decoder stage widths (see :class:`ConvDecoder`).
    reconstruction_scale : float, default=0.5
        Size of the reconstruction relative to the input: the decoder rebuilds a
        down-sampled face, which keeps the objective (the latent vector must describe the
        whole face) at a fraction of the cost of full resolution.
    hidden_dim : int, default=256
        Width of the head's hidden layer.
    dropout : float, default=0.1
        Dropout in the encoder projection and in the head.
    in_channels : int, default=1
        Channels of the input images.

    Examples
    --------
    >>> import torch
    >>> from skfkd.neural import KeypointAutoencoder
    >>> net = KeypointAutoencoder((96, 96), n_outputs=30, latent_dim=64)
    >>> keypoints, reconstruction = net(torch.zeros(4, 1, 96, 96))
    >>> keypoints.shape, reconstruction.shape
    (torch.Size([4, 30]), torch.Size([4, 1, 48, 48]))
    """

    def __init__(
        self,
        image_shape,
        n_outputs,
        latent_dim=128,
        widths=(24, 48, 96, 128, 160),
        decoder_widths=(64, 32, 16),
        reconstruction_scale=0.5,
        hidden_dim=256,
        dropout=0.1,
        in_channels=1,
    ):
        super().__init__()
        self.encoder = ConvEncoder(image_shape, in_channels, widths, latent_dim, dropout)
        self.head = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, n_outputs),
        )
        if not 0 < reconstruction_scale <= 1:
            raise ValueError(f"reconstruction_scale must be in (0, 1]; got {reconstruction_scale!r}")
        output_shape = tuple(max(1, round(side * reconstruction_scale)) for side in image_shape)
        self.decoder = ConvDecoder(output_shape, in_channels, decoder_widths, latent_dim)

    def forward(self, images, reconstruct=True):
        """Keypoints ``(n, n_outputs)`` and the reconstruction (None when not asked for)."""
        latent = self.encoder(images)
        reconstruction = self.decoder(latent) if reconstruct else None
        return self.head(latent), reconstruction
