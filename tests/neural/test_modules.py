"""The torch modules: the local refinement, batch-norm folding, the keypoint autoencoder."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from skfkd.neural import ConvEncoder, KeypointAutoencoder, LocalRefinement
from skfkd.neural._modules import fold_batch_norm


def _randomised(module, seed=0):
    """Random weights and batch-norm statistics, so that no identity hides a mistake."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.dtype.is_floating_point:
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return module


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    height=st.integers(6, 14),
    width=st.integers(6, 14),
    n_keypoints=st.integers(1, 4),
)
def test_refinement_is_a_linear_map_of_each_points_3x3_neighbourhood(seed, height, width, n_keypoints):
    """Sampling the 3x3-convolved map at a point equals sampling the map at the point and
    its eight neighbours one cell away and applying the convolution's weights: the
    equivalence the module's docstring claims (away from the border, where padding differs)."""
    generator = torch.Generator().manual_seed(seed)
    refinement = _randomised(LocalRefinement([5], n_keypoints, channels=[3], hidden_dim=4), seed).eval()
    feature_map = torch.randn(2, 5, height, width, generator=generator)
    # Points at least 1.5 cells inside the map, anywhere between cell centres.
    low = torch.tensor([-1 + 3.0 / width, -1 + 3.0 / height])
    points = low + torch.rand(2, n_keypoints, 2, generator=generator) * (-2 * low)

    reduce, conv = refinement.local[0]
    reduced = reduce(feature_map)
    step = torch.tensor([2.0 / width, 2.0 / height])
    hidden = conv.bias.view(1, -1, 1).clone()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            grid = (points + step * torch.tensor([dx, dy])).unsqueeze(2)
            neighbour = F.grid_sample(reduced, grid, align_corners=False).squeeze(3)  # (n, c, k)
            hidden = hidden + torch.einsum("oc,nck->nok", conv.weight[:, :, dy + 1, dx + 1], neighbour)
    expected = points + torch.einsum("nhk,khc->nkc", F.relu(hidden), refinement.weight) + refinement.bias
    with torch.no_grad():
        torch.testing.assert_close(refinement([feature_map], points), expected, atol=1e-4, rtol=1e-4)


def test_refinement_starts_as_the_identity_and_learns_a_shift():
    torch.manual_seed(0)
    refinement = LocalRefinement([6, 6], n_keypoints=3)
    maps = [torch.randn(8, 6, 12, 12), torch.randn(8, 6, 6, 6)]
    points = torch.rand(8, 3, 2) * 1.6 - 0.8
    assert torch.equal(refinement(maps, points), points)
    shift = torch.tensor([0.05, -0.03])
    optimizer = torch.optim.Adam(refinement.parameters(), lr=1e-2)
    for _ in range(300):
        loss = (refinement(maps, points) - (points + shift)).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.005  # the shift is 0.03-0.05


def test_refinement_needs_one_width_per_map():
    with pytest.raises(ValueError, match="one width per feature map"):
        LocalRefinement([8, 16], n_keypoints=2, channels=[4])


@pytest.mark.parametrize("channels_last", [False, True])
def test_folding_batch_norm_keeps_the_function_and_leaves_the_module_alone(channels_last):
    net = _randomised(KeypointAutoencoder((32, 32), 10, latent_dim=16, widths=(8, 16, 24), depths=(1, 2, 1)))
    net.train()
    images = torch.randn(4, 1, 32, 32)
    if channels_last:
        net, images = (
            net.to(memory_format=torch.channels_last),
            images.contiguous(memory_format=torch.channels_last),
        )
    folded = fold_batch_norm(net)
    assert net.training  # the original keeps its mode and its layers
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.encoder.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.encoder.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.refinement.modules())
    net.eval()
    with torch.no_grad():
        expected, _ = net(images, reconstruct=False)
        got, _ = folded(images, reconstruct=False)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_refine_stages_must_exist_and_can_be_switched_off():
    with pytest.raises(ValueError, match=r"refine_stages \[3\] are not stages"):
        KeypointAutoencoder((32, 32), 10, widths=(8, 16, 24), depths=(1, 2, 1), refine_stages=(1, 3))
    plain = KeypointAutoencoder((32, 32), 10, widths=(8, 16, 24), depths=(1, 2, 1), refine_stages=())
    assert plain.refinement is None
    keypoints, _ = plain(torch.zeros(2, 1, 32, 32), reconstruct=False)
    assert keypoints.shape == (2, 10)


def test_refinement_corrects_the_heads_points():
    torch.manual_seed(0)
    net = _randomised(
        KeypointAutoencoder((32, 32), 10, latent_dim=16, widths=(8, 16, 24), depths=(1, 2, 1))
    ).eval()
    images = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        latent, _ = net.encoder.encode(images)
        head_points = net.head(latent)
        keypoints, _ = net(images, reconstruct=False)
    assert keypoints.shape == head_points.shape
    assert not np.allclose(keypoints.numpy(), head_points.numpy())


def test_depths_add_stride_1_convolutions_per_stage():
    encoder = ConvEncoder((32, 32), widths=(8, 16), depths=(1, 3), latent_dim=4)
    convolutions = [[m for m in stage.modules() if isinstance(m, nn.Conv2d)] for stage in encoder.stages]
    assert [len(c) for c in convolutions] == [1, 3]
    assert [c.stride for c in convolutions[1]] == [(2, 2), (1, 1), (1, 1)]
    _, feature_maps = encoder.encode(torch.zeros(2, 1, 32, 32))
    assert [tuple(m.shape[1:]) for m in feature_maps] == [(8, 16, 16), (16, 8, 8)]
    with pytest.raises(ValueError, match=r"depths \(1, 1, 2, 1\) must give"):
        ConvEncoder((32, 32), widths=(8, 16), depths=(1, 1, 2, 1))
