"""Random geometric and photometric augmentation of image batches and their keypoints.

The per-pixel and per-keypoint work is torch, on whatever device the tensors live on. The
regressor calls it on each training batch (CPU or CUDA) and
:meth:`KeypointAugmenter.fit_resample` calls it on CPU tensors made from numpy arrays, so
both paths move pixels and keypoints with the same code.

The per-sample parameters are drawn with a CPU torch generator and turned into matrices on
the host with numpy (a few hundred numbers: numpy's per-call cost is a fraction of torch's),
then sent to the device in a single copy, so a CUDA batch costs one transfer and no
synchronisation with the GPU.

Coordinates follow the package convention: ``x`` is the column, ``y`` the row, and pixel
centres sit at integers, so an image ``w`` pixels wide spans ``x`` in ``[-0.5, w - 0.5]``.
A geometric transform is a forward affine map in these pixel coordinates, an ``(n, 2, 3)``
matrix ``[A | t]``: keypoint ``p`` moves to ``A p + t``, and output pixel ``q`` takes the
input's value at ``A^-1 (q - t)``. ``torch.nn.functional.grid_sample`` wants that inverse
map in its own normalised coordinates (``align_corners=False``: -1 and 1 are the outer
*edges* of the border pixels, so pixel centre ``x`` sits at ``(2 x + 1) / w - 1``);
:func:`normalized_theta` converts.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

# Occluding patches cover this fraction of the image's height and of its width (each
# side drawn on its own): big enough to hide an eye or the mouth, small enough to leave
# most of the face.
OCCLUSION_SIDE = (0.1, 0.4)

# Number of uniform draws per sample. All are drawn whatever transforms are switched on,
# so switching one transform off does not change the draws of the others.
_N_UNIFORMS = 13


class AugmentationDraw(NamedTuple):
    """The random parameters of one batch, one entry per sample (host numpy arrays).

    Attributes
    ----------
    angle : ndarray of shape (n,)
        Rotation in degrees, counter-clockwise as seen on screen, about the image centre.
    zoom : ndarray of shape (n,)
        Scale factor about the image centre (> 1 enlarges the face).
    shift : ndarray of shape (n, 2)
        Translation ``(dx, dy)`` in pixels.
    flip : ndarray of shape (n,), bool
        Whether the sample is mirrored horizontally (before rotation and scaling).
    contrast : ndarray of shape (n,)
        Factor applied to deviations from the image mean.
    brightness : ndarray of shape (n,)
        Offset in units of the image's standard deviation.
    occlude : ndarray of shape (n,), bool
        Whether the sample gets an occluding patch.
    box : ndarray of shape (n, 4)
        The patch as ``(x0, y0, x1, y1)``: pixels with ``x0 <= x < x1`` and
        ``y0 <= y < y1`` (pixel-centre coordinates) are covered.
    fill : ndarray of shape (n,)
        The patch's value as a fraction of the image's range, from its minimum (0) to its
        maximum (1).
    noise_seed : int
        Seed of the generator that draws the pixel noise on the images' device.
    """

    angle: np.ndarray
    zoom: np.ndarray
    shift: np.ndarray
    flip: np.ndarray
    contrast: np.ndarray
    brightness: np.ndarray
    occlude: np.ndarray
    box: np.ndarray
    fill: np.ndarray
    noise_seed: int


def sample_augmentation(
    n, height, width, *, rotation, scale, shift, flip, brightness, contrast, occlusion, generator=None
) -> AugmentationDraw:
    """Draw the random parameters of a batch with a CPU torch generator.

    Parameters
    ----------
    n : int
        Number of samples.
    height, width : int
        Image size in pixels (shifts and patches are fractions of it).
    rotation : float
        Maximum rotation in degrees; angles are uniform in ``[-rotation, rotation]``.
    scale : (float, float)
        Zoom range; zooms are uniform in it.
    shift : float
        Maximum shift as a fraction of the image size, uniform and independent in x and y.
    flip : float
        Probability of a horizontal flip.
    brightness : float
        Maximum brightness offset in image standard deviations (uniform).
    contrast : float
        Contrast factors are uniform in ``[1 - contrast, 1 + contrast]``.
    occlusion : float
        Probability of an occluding patch.
    generator : torch.Generator or None
        CPU generator; None uses torch's global generator.

    Returns
    -------
    draw : AugmentationDraw

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> draw = sample_augmentation(4, 96, 96, rotation=10, scale=(1, 1), shift=0, flip=1.0,
    ...                            brightness=0, contrast=0, occlusion=0, generator=g)
    >>> bool((abs(draw.angle) <= 10).all()), draw.zoom.tolist(), draw.flip.tolist()
    (True, [1.0, 1.0, 1.0, 1.0], [True, True, True, True])
    """
    u = torch.rand((n, _N_UNIFORMS), generator=generator, dtype=torch.float64).numpy()
    # Drawn last and always, so it never shifts the per-sample draws above.
    noise_seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    size = np.array([width, height], dtype=np.float64)
    low, high = float(scale[0]), float(scale[1])
    side_low, side_high = OCCLUSION_SIDE
    side = (side_low + (side_high - side_low) * u[:, 8:10]) * size
    # Patch centres anywhere on the image, so patches may hang over its edge.
    centre = u[:, 10:12] * size - 0.5
    return AugmentationDraw(
        angle=(2 * u[:, 0] - 1) * rotation,
        zoom=low + (high - low) * u[:, 1],
        shift=(2 * u[:, 2:4] - 1) * shift * size,
        flip=u[:, 4] < flip,
        contrast=1 + (2 * u[:, 5] - 1) * contrast,
        brightness=(2 * u[:, 6] - 1) * brightness,
        occlude=u[:, 7] < occlusion,
        box=np.concatenate([centre - side / 2, centre + side / 2], axis=1),
        fill=u[:, 12],
        noise_seed=noise_seed,
    )


def affine_matrices(angle, zoom, shift, flip, height, width) -> np.ndarray:
    """Forward pixel-space affine maps ``[A | t]`` of shape (n, 2, 3), in float64.

    The map mirrors (``x -> (w - 1) - x``) when ``flip``, then rotates by ``angle``
    degrees (counter-clockwise on screen) and zooms by ``zoom``, both about the image
    centre ``((w - 1) / 2, (h - 1) / 2)``, then shifts by ``shift``.

    Parameters
    ----------
    angle, zoom : array-like of shape (n,)
    shift : array-like of shape (n, 2)
    flip : array-like of shape (n,), bool
    height, width : int

    Returns
    -------
    matrices : ndarray of shape (n, 2, 3)

    Examples
    --------
    A flip alone maps column ``x`` to ``w - 1 - x``:

    >>> affine_matrices([0.0], [1.0], [[0.0, 0.0]], [True], height=4, width=10)[0].tolist()
    [[-1.0, 0.0, 9.0], [0.0, 1.0, 0.0]]
    """
    theta = np.deg2rad(np.asarray(angle, dtype=np.float64))
    zoom = np.asarray(zoom, dtype=np.float64)
    cos, sin = zoom * np.cos(theta), zoom * np.sin(theta)
    mirror = np.where(np.asarray(flip, dtype=bool), -1.0, 1.0)
    # A = zoom * R @ diag(mirror, 1), with R = [[cos, sin], [-sin, cos]]: with y pointing
    # down, this R turns points counter-clockwise on screen for positive angles.
    out = np.empty((*theta.shape, 2, 3))
    a = out[..., :2]
    a[..., 0, 0], a[..., 0, 1] = cos * mirror, sin
    a[..., 1, 0], a[..., 1, 1] = -sin * mirror, cos
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    # p' = A (p - c) + c + shift, so t = c + shift - A c.
    out[..., 2] = centre + np.asarray(shift, dtype=np.float64) - a @ centre
    return out


def invert_affine(matrices) -> np.ndarray:
    """Inverse maps of (n, 2, 3) affine matrices ``[A | t]``: ``[A^-1 | -A^-1 t]``.

    Examples
    --------
    >>> invert_affine([[[2.0, 0.0, 1.0], [0.0, 4.0, -2.0]]])[0].tolist()
    [[0.5, 0.0, -0.5], [0.0, 0.25, 0.5]]
    """
    matrices = np.asarray(matrices, dtype=np.float64)
    a, b, c, d = matrices[..., 0, 0], matrices[..., 0, 1], matrices[..., 1, 0], matrices[..., 1, 1]
    det = a * d - b * c
    out = np.empty(matrices.shape)
    inv = out[..., :2]
    inv[..., 0, 0], inv[..., 0, 1], inv[..., 1, 0], inv[..., 1, 1] = d / det, -b / det, -c / det, a / det
    out[..., 2] = -(inv @ matrices[..., 2:])[..., 0]
    # "+ 0.0" turns the -0.0 that negating zero entries gives into 0.0, for tidy output.
    return out + 0.0


def normalized_theta(matrices, height, width) -> np.ndarray:
    """The ``theta`` of ``affine_grid(..., align_corners=False)`` that warps by ``matrices``.

    ``affine_grid`` maps *output* normalised coordinates to *input* ones, so this is
    ``N M^-1 N^-1`` with ``N`` the pixel-to-normalised map ``u = (2 x + 1) / w - 1``.

    Examples
    --------
    The identity map stays the identity:

    >>> normalized_theta([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], 8, 8)[0].tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    inverse = invert_affine(matrices)
    scale = np.array([2 / width, 2 / height])
    offset = np.array([1 / width - 1, 1 / height - 1])
    # N^-1 u = (u - offset) / scale, so N M^-1 N^-1 u = scale * (B ((u - offset) / scale) + s) + offset.
    theta = np.empty(inverse.shape)
    b = theta[..., :2]
    b[...] = inverse[..., :2] * (scale[:, None] / scale[None, :])
    theta[..., 2] = scale * inverse[..., 2] + offset - b @ offset
    return theta


def transform_keypoints(points, matrices) -> torch.Tensor:
    """Apply (n, 2, 3) affine maps to keypoints of shape (n, k, 2).

    A point with a NaN coordinate comes out with both coordinates NaN. Points are not
    clipped to the image.

    Parameters
    ----------
    points : Tensor of shape (n, k, 2), floating
    matrices : array-like or Tensor of shape (n, 2, 3)
        Forward maps; moved to the points' device and dtype.

    Returns
    -------
    moved : Tensor of shape (n, k, 2)

    Examples
    --------
    >>> import torch
    >>> transform_keypoints(torch.tensor([[[10.0, 20.0]]]), [[[1.0, 0.0, 3.0], [0.0, 1.0, -1.0]]]).tolist()
    [[[13.0, 19.0]]]
    """
    matrices = torch.as_tensor(matrices, device=points.device).to(points.dtype)
    # p @ A^T + t, batched; NaN in either coordinate reaches both outputs.
    return torch.baddbmm(matrices[:, None, :, 2], points, matrices[..., :2].transpose(1, 2))


def relabel_flipped(points, flipped, permutation) -> torch.Tensor:
    """Swap left/right keypoint labels of the mirrored samples.

    After a mirror the subject's left eye is where the right eye was drawn, so the point
    stored as ``left_eye`` must take the (mirrored) position of ``right_eye``.

    Parameters
    ----------
    points : Tensor of shape (n, k, 2)
    flipped : Tensor of shape (n,), bool
    permutation : Tensor of shape (k,), long
        ``KeypointLayout.flip_permutation``.

    Returns
    -------
    relabelled : Tensor of shape (n, k, 2)

    Examples
    --------
    >>> import torch
    >>> pts = torch.tensor([[[1.0, 0.0], [2.0, 0.0]], [[1.0, 0.0], [2.0, 0.0]]])
    >>> relabel_flipped(pts, torch.tensor([True, False]), torch.tensor([1, 0]))[:, :, 0].tolist()
    [[2.0, 1.0], [1.0, 2.0]]
    """
    return torch.where(flipped[:, None, None], points[:, permutation], points)


def warp_images(images, matrices, padding_mode="border") -> torch.Tensor:
    """Warp images (n, c, h, w) by forward pixel-space affine maps, bilinearly.

    Parameters
    ----------
    images : Tensor of shape (n, c, h, w), floating
    matrices : array-like of shape (n, 2, 3)
        Forward maps from :func:`affine_matrices`.
    padding_mode : {"border", "zeros", "reflection"}, default="border"
        What fills the area that comes from outside the input, as in
        :func:`torch.nn.functional.grid_sample`.

    Returns
    -------
    warped : Tensor like ``images``

    Examples
    --------
    Shifting by one pixel to the right moves a dot by one column:

    >>> import torch
    >>> img = torch.zeros(1, 1, 5, 5)
    >>> img[0, 0, 2, 2] = 1.0
    >>> out = warp_images(img, [[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]], padding_mode="zeros")
    >>> [int(v) for v in (out[0, 0] > 0.5).nonzero()[0]]
    [2, 3]
    """
    _, _, height, width = images.shape
    theta = torch.from_numpy(normalized_theta(matrices, height, width)).to(images.device)
    return _warp(images, theta, padding_mode)


def _warp(images, theta, padding_mode):
    """grid_sample by normalised ``theta`` (n, 2, 3) already on the images' device."""
    n, _, height, width = images.shape
    theta = theta.to(images.dtype)
    if images.device.type == "cpu":
        grid = _affine_grid(theta, height, width)
    else:
        # On a GPU the matrix product is fast, and one kernel launch rather than the dozen
        # of the broadcast version (or affine_grid's own) matters: the host is the bottleneck.
        base = _base_grid(height, width, images.device, images.dtype)
        grid = torch.matmul(base, theta.transpose(1, 2)).view(n, height, width, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def _affine_grid(theta, height, width):
    """``F.affine_grid(theta, (n, 1, h, w), align_corners=False)``, built by broadcasting.

    The grid's x (and y) is a sum of a per-column and a per-row term, so two broadcast
    adds replace affine_grid's batched matrix product, which is ~20x slower on CPU.
    Used on CPU only.
    """
    device, dtype = theta.device, theta.dtype
    # Normalised pixel centres for align_corners=False.
    ux = (2 * torch.arange(width, device=device, dtype=dtype) + 1) / width - 1
    uy = (2 * torch.arange(height, device=device, dtype=dtype) + 1) / height - 1
    grid = torch.empty((len(theta), height, width, 2), device=device, dtype=dtype)
    for axis in range(2):
        by_column = theta[:, axis, 0, None, None] * ux[None, None, :]
        by_row = theta[:, axis, 1, None, None] * uy[None, :, None] + theta[:, axis, 2, None, None]
        torch.add(by_column, by_row, out=grid[..., axis])
    return grid


@functools.lru_cache(maxsize=8)
def _base_grid(height, width, device, dtype):
    """Homogeneous normalised pixel centres ``(u_x, u_y, 1)``, shape (h * w, 3), row-major."""
    ux = (2 * torch.arange(width, device=device, dtype=dtype) + 1) / width - 1
    uy = (2 * torch.arange(height, device=device, dtype=dtype) + 1) / height - 1
    grid_y, grid_x = torch.meshgrid(uy, ux, indexing="ij")
    return torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], dim=-1).reshape(-1, 3)


def adjust_photometric(images, mean, std, *, contrast, brightness, noise, noise_seed) -> torch.Tensor:
    """Contrast, brightness and Gaussian noise in units of each image's own statistics.

    Each image becomes ``mean + contrast * (x - mean) + brightness * std + noise * std * z``
    with ``z`` standard normal per pixel, so the effect does not depend on whether pixels
    are 0-255, 0-1 or standardised.

    Parameters
    ----------
    images : Tensor of shape (n, c, h, w), floating
    mean, std : Tensor of shape (n,)
        Each image's pixel mean and standard deviation.
    contrast, brightness : Tensor of shape (n,)
        Per-sample factor and offset (the latter in standard deviations), on the images'
        device.
    noise : float
        Noise level in standard deviations; 0 draws no noise.
    noise_seed : int
        Seeds a generator on the images' device, so noise is drawn where the images are.

    Returns
    -------
    adjusted : Tensor like ``images``

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[[[0.0, 2.0]]]])
    >>> adjust_photometric(x, torch.tensor([1.0]), torch.tensor([1.0]), contrast=torch.tensor([2.0]),
    ...                    brightness=torch.tensor([0.5]), noise=0.0, noise_seed=0).tolist()
    [[[[-0.5, 3.5]]]]
    """
    contrast = contrast.to(images.dtype)
    # offset = (1 - contrast) * mean + brightness * std, in two fused kernels.
    offset = torch.addcmul(torch.addcmul(mean, mean, contrast, value=-1), brightness.to(images.dtype), std)
    out = torch.addcmul(offset[:, None, None, None], images, contrast[:, None, None, None])
    if noise > 0:
        device = images.device
        noise_generator = _noise_generator(device).manual_seed(noise_seed)
        z = torch.randn(images.shape, generator=noise_generator, device=device, dtype=images.dtype)
        out.addcmul_(z, (noise * std)[:, None, None, None])
    return out


@functools.lru_cache(maxsize=8)
def _noise_generator(device):
    """One generator per device, re-seeded for every batch (creating one costs host time).

    Shared, so two threads augmenting on one device at once could interleave their draws.
    """
    return torch.Generator(device=device)


def occlude(images, box, fill, active) -> torch.Tensor:
    """Paint an axis-aligned patch of constant value on the active samples.

    Parameters
    ----------
    images : Tensor of shape (n, c, h, w)
    box : Tensor of shape (n, 4)
        ``(x0, y0, x1, y1)``; pixel centres with ``x0 <= x < x1`` and ``y0 <= y < y1``
        are covered.
    fill : Tensor of shape (n,)
        The patch's value, in the images' units.
    active : Tensor of shape (n,), bool

    Returns
    -------
    occluded : Tensor like ``images``

    Examples
    --------
    >>> import torch
    >>> out = occlude(torch.zeros(1, 1, 3, 4), torch.tensor([[0.5, 0.0, 2.5, 1.0]]),
    ...               torch.tensor([9.0]), torch.tensor([True]))
    >>> out[0, 0].tolist()
    [[0.0, 9.0, 9.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """
    _, _, height, width = images.shape
    xs = torch.arange(width, device=box.device, dtype=box.dtype)
    ys = torch.arange(height, device=box.device, dtype=box.dtype)
    in_x = (xs >= box[:, 0:1]) & (xs < box[:, 2:3])
    in_y = (ys >= box[:, 1:2]) & (ys < box[:, 3:4])
    mask = in_y[:, :, None] & in_x[:, None, :] & active[:, None, None]
    return torch.where(mask[:, None], fill.to(images.dtype)[:, None, None, None], images)


@functools.lru_cache(maxsize=32)
def _permutation_on(permutation, device):
    """A layout's flip permutation as a long tensor on ``device``, made once per device."""
    return torch.tensor(permutation, dtype=torch.long, device=device)


def _to_device(array, device):
    """One host-to-device copy that does not synchronise with the GPU."""
    # From pageable memory, CUDA stages the bytes before returning and does not wait for
    # the GPU; pinning first would cost more host time than the copy of a few KB.
    return torch.from_numpy(array).to(device, non_blocking=True)


# Columns of the per-sample parameter block sent to the device.
_THETA, _MATRIX, _FLIP, _CONTRAST, _BRIGHTNESS, _OCCLUDE, _BOX, _FILL = (
    slice(0, 6),
    slice(6, 12),
    12,
    13,
    14,
    15,
    slice(16, 20),
    20,
)


def augment_tensors(
    images, targets, draw, *, noise, permutation, padding_mode="border", geometric=True, photometric=True
):
    """Apply a drawn augmentation to a batch of images and keypoint targets.

    Order: mirror/rotate/zoom/shift (images and keypoints together), then contrast and
    brightness, then noise, then occlusion. Image statistics (mean, standard deviation,
    minimum, maximum) are those of each input image.

    Parameters
    ----------
    images : Tensor of shape (n, c, h, w), floating
    targets : Tensor of shape (n, 2k), floating
        Keypoints ``[x0, y0, x1, y1, ...]`` in pixels, NaN where unannotated.
    draw : AugmentationDraw
    noise : float
        Gaussian noise level in image standard deviations.
    permutation : sequence of int of length k
        The layout's flip permutation.
    padding_mode : str, default="border"
    geometric, photometric : bool, default=True
        False skips the warp, or the intensity changes, entirely (a speed-up when they
        are switched off; their draws are still consumed by the caller).

    Returns
    -------
    images, targets : Tensors of the input shapes, dtypes and devices.
    """
    n, _, height, width = images.shape
    device = images.device
    matrices = affine_matrices(draw.angle, draw.zoom, draw.shift, draw.flip, height, width)
    params = np.concatenate(
        [
            normalized_theta(matrices, height, width).reshape(n, 6),
            matrices.reshape(n, 6),
            np.stack([draw.flip, draw.contrast, draw.brightness, draw.occlude], axis=1),
            draw.box,
            draw.fill[:, None],
        ],
        axis=1,
    )
    params = _to_device(params, device)
    # Work in float32 at least: bfloat16 has too few mantissa bits for sampling grids
    # (about 0.4 px of error at 96 px) and for image statistics.
    work = torch.promote_types(images.dtype, torch.float32)
    kp_dtype = torch.promote_types(targets.dtype, torch.float32)
    # One cast for everything on the pixel side; keypoints keep float64 when given it.
    p = params.to(work)
    x = images.to(work)
    any_occluded = bool(draw.occlude.any())
    if photometric or any_occluded:
        flat = x.reshape(n, -1)
        # On CPU two passes (mean, then mean squared deviation) beat torch.std_mean, whose
        # Welford loop is an order of magnitude slower there; as accurate in float32.
        if device.type == "cpu":
            mean = flat.mean(dim=1)
            std = (flat - mean[:, None]).square().mean(dim=1).sqrt()
        else:  # one kernel on a GPU, where the host's launches are the cost
            std, mean = torch.std_mean(flat, dim=1, correction=0)
    if any_occluded:
        low, high = flat.amin(dim=1), flat.amax(dim=1)
    points = targets.reshape(n, -1, 2).to(kp_dtype)
    if geometric:
        x = _warp(x, p[:, _THETA].reshape(n, 2, 3), padding_mode)
        matrices = (p if kp_dtype == work else params.to(kp_dtype))[:, _MATRIX].reshape(n, 2, 3)
        points = transform_keypoints(points, matrices)
        points = relabel_flipped(points, p[:, _FLIP] > 0.5, _permutation_on(tuple(permutation), device))
    if photometric:
        x = adjust_photometric(
            x,
            mean,
            std,
            contrast=p[:, _CONTRAST],
            brightness=p[:, _BRIGHTNESS],
            noise=noise,
            noise_seed=draw.noise_seed,
        )
    if any_occluded:
        fill = low + p[:, _FILL] * (high - low)
        x = occlude(x, p[:, _BOX], fill, p[:, _OCCLUDE] > 0.5)
    out = x.to(images.dtype)
    if images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous():
        out = out.contiguous(memory_format=torch.channels_last)
    return out, points.reshape(targets.shape).to(targets.dtype)
