"""Geometry of the augmentation: pixels and keypoints must move together."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from skfkd import KeypointLayout
from skfkd.augmentation import KeypointAugmenter
from skfkd.augmentation._geometry import (
    _affine_grid,
    _base_grid,
    affine_matrices,
    invert_affine,
    normalized_theta,
    relabel_flipped,
    transform_keypoints,
    warp_images,
)

# Two keypoints that swap under a flip; small enough to reason about by hand.
PAIR = KeypointLayout("pair", ("left", "right"), flip_pairs=((0, 1),), interocular=(0, 1))
NO_PAIRS = KeypointLayout("plain", ("a", "b"), flip_pairs=(), interocular=(0, 1))

angles = st.floats(-180, 180)
zooms = st.floats(0.5, 2.0)
shifts = st.floats(-10, 10)
sizes = st.integers(4, 40)


def _matrix(angle=0.0, zoom=1.0, dx=0.0, dy=0.0, flip=False, height=32, width=32):
    return affine_matrices([angle], [zoom], [[dx, dy]], [flip], height, width)


def _compose(second, first):
    """The (n, 2, 3) map ``second o first``."""
    a = second[..., :2] @ first[..., :2]
    t = second[..., :2] @ first[..., 2:] + second[..., 2:]
    return np.concatenate([a, t], axis=-1)


def _blob(centres, height, width, sigma=1.5):
    """Images (n, 1, h, w) with a Gaussian dot at each (x, y) centre, pixel centres at integers."""
    ys, xs = np.mgrid[0:height, 0:width]
    c = np.asarray(centres, dtype=float)
    d2 = (xs[None] - c[:, 0, None, None]) ** 2 + (ys[None] - c[:, 1, None, None]) ** 2
    return torch.from_numpy(np.exp(-d2 / (2 * sigma**2)).astype(np.float32))[:, None]


def _centroid(images):
    """Intensity-weighted centre (x, y) of each image's bright blob."""
    img = images[:, 0].double()
    img = torch.where(img > 0.05 * img.amax(dim=(1, 2), keepdim=True), img, 0)
    _, height, width = img.shape
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    mass = img.sum(dim=(1, 2))
    return torch.stack([(img * xs).sum(dim=(1, 2)) / mass, (img * ys).sum(dim=(1, 2)) / mass], dim=1)


@given(height=sizes, width=sizes)
def test_flip_maps_column_x_to_w_minus_1_minus_x(height, width):
    m = _matrix(flip=True, height=height, width=width)
    pts = torch.tensor([[[0.0, 0.0], [width - 1.0, height - 1.0], [-3.0, 7.5]]], dtype=torch.float64)
    out = transform_keypoints(pts, m)
    np.testing.assert_allclose(out[0, :, 0], [width - 1, 0, width + 2])
    np.testing.assert_allclose(out[0, :, 1], pts[0, :, 1])


@given(height=sizes, width=sizes, seed=st.integers(0, 2**16))
def test_flipping_twice_is_the_identity(height, width, seed):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand((2, 3, height, width), generator=g)
    points = torch.rand((2, 2, 2), generator=g, dtype=torch.float64) * 50 - 10
    m = np.repeat(_matrix(flip=True, height=height, width=width), 2, axis=0)
    perm, flipped = torch.tensor([1, 0]), torch.tensor([True, True])
    once = warp_images(images, m)
    # A single flip really mirrors the pixels (pixel centres land on pixel centres).
    torch.testing.assert_close(once, images.flip(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(warp_images(once, m), images, atol=1e-5, rtol=0)
    twice = relabel_flipped(transform_keypoints(points, m), flipped, perm)
    twice = relabel_flipped(transform_keypoints(twice, m), flipped, perm)
    torch.testing.assert_close(twice, points)


@given(angle=angles, zoom=zooms, dx=shifts, dy=shifts, flip=st.booleans())
def test_inverse_undoes_the_map(angle, zoom, dx, dy, flip):
    m = _matrix(angle, zoom, dx, dy, flip)
    eye = [[[1.0, 0, 0], [0, 1.0, 0]]]
    np.testing.assert_allclose(_compose(invert_affine(m), m), eye, atol=1e-12)


@given(angle=angles, x=st.floats(-50, 150), y=st.floats(-50, 150))
def test_rotating_by_a_then_minus_a_returns_the_keypoints(angle, x, y):
    pts = torch.tensor([[[x, y]]], dtype=torch.float64)
    back = transform_keypoints(transform_keypoints(pts, _matrix(angle)), _matrix(-angle))
    torch.testing.assert_close(back, pts, atol=1e-9, rtol=0)


@settings(max_examples=20)
@given(angle=st.floats(-45, 45))
def test_rotating_by_a_then_minus_a_returns_the_image_interior(angle):
    # A smooth image, so two bilinear resamplings change it little; only the interior is
    # compared, since the corners come from outside the image.
    size = 48
    ys, xs = np.mgrid[0:size, 0:size] / size
    image = torch.from_numpy(np.sin(3 * xs + 1) * np.cos(2 * ys) + xs).float()[None, None]
    back = warp_images(
        warp_images(image, _matrix(angle, height=size, width=size)), _matrix(-angle, height=size, width=size)
    )
    r = size // 2
    yy, xx = np.mgrid[0:size, 0:size]
    interior = torch.from_numpy((xx - (size - 1) / 2) ** 2 + (yy - (size - 1) / 2) ** 2 < (0.6 * r) ** 2)
    assert (back - image)[0, 0][interior].abs().max() < 0.02


def test_rotation_is_counter_clockwise_on_screen():
    # A point right of the centre moves up (smaller row) for a positive angle.
    out = transform_keypoints(torch.tensor([[[25.5, 15.5]]], dtype=torch.float64), _matrix(90))
    torch.testing.assert_close(out, torch.tensor([[[15.5, 5.5]]], dtype=torch.float64))


@settings(max_examples=40)
@given(angle=angles, zoom=zooms, dx=shifts, dy=shifts, flip=st.booleans(), height=sizes, width=sizes)
def test_fast_grid_matches_affine_grid(angle, zoom, dx, dy, flip, height, width):
    theta = torch.from_numpy(
        normalized_theta(_matrix(angle, zoom, dx, dy, flip, height, width), height, width)
    ).float()
    expected = F.affine_grid(theta, [1, 1, height, width], align_corners=False)
    torch.testing.assert_close(_affine_grid(theta, height, width), expected, atol=1e-5, rtol=1e-5)
    # The GPU's way: a matrix product with cached pixel centres.
    base = _base_grid(height, width, theta.device, theta.dtype)
    gpu_way = torch.matmul(base, theta.transpose(1, 2)).view(1, height, width, 2)
    torch.testing.assert_close(gpu_way, expected, atol=1e-5, rtol=1e-5)


@settings(max_examples=25)
@given(seed=st.integers(0, 2**16), height=st.integers(32, 64), width=st.integers(32, 64))
def test_a_dot_moves_with_its_keypoint(seed, height, width):
    """The pixel-centre convention, exactly: a dot's centroid follows its keypoint."""
    n = 16
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand((n, 2), generator=g, dtype=torch.float64) * 0.4 + 0.3
    centres *= torch.tensor([width - 1, height - 1], dtype=torch.float64)
    images = _blob(centres.numpy(), height, width)
    # The second keypoint is unannotated, so after a flip the dot is labelled "right".
    targets = torch.cat([centres, torch.full((n, 2), math.nan, dtype=torch.float64)], dim=1).float()
    aug = KeypointAugmenter(
        rotation=40, scale=(0.8, 1.2), shift=0.08, flip=0.5, brightness=0, contrast=0, noise=0, layout=PAIR
    )
    out, kp = aug.augment_batch(images, targets, generator=g)
    kp = kp.reshape(n, 2, 2)
    annotated = ~kp.isnan().any(dim=2)
    # Exactly one point per sample stays annotated, both coordinates NaN for the other.
    assert (annotated.sum(dim=1) == 1).all()
    assert kp[~annotated].isnan().all()
    dot = kp[annotated]
    assert (_centroid(out) - dot).norm(dim=1).max() < 0.2
    # And the brightest pixel is within a pixel of it.
    flat = out[:, 0].reshape(n, -1).argmax(dim=1)
    brightest = torch.stack([flat % width, flat // width], dim=1).float()
    assert (brightest - dot).norm(dim=1).max() <= 1.0


def test_flip_with_a_layout_without_pairs_raises():
    aug = KeypointAugmenter(flip=0.5, layout=NO_PAIRS)
    with pytest.raises(ValueError, match="has no flip pairs"):
        aug.augment_batch(torch.zeros(2, 1, 8, 8), torch.zeros(2, 4))
    # Without flips the same layout is fine.
    aug.set_params(flip=0).augment_batch(torch.zeros(2, 1, 8, 8), torch.zeros(2, 4))
