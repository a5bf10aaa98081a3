"""The torch modules: the local refinement, batch-norm folding, the keypoint autoencoder."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from skfkd.neural import ConvEncoder, HeatmapHead, KeypointAutoencoder, LocalRefinement
from skfkd.neural._modules import expected_positions, fold_batch_norm


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


@settings(max_examples=40, deadline=None)
@given(height=st.integers(2, 30), width=st.integers(2, 30), data=st.data())
def test_a_peaked_heatmap_places_its_keypoint_at_the_cells_centre(height, width, data):
    row, column = data.draw(st.integers(0, height - 1)), data.draw(st.integers(0, width - 1))
    scores = torch.full((1, 1, height, width), -1e4)
    scores[0, 0, row, column] = 0.0
    # The centre of the cell, in grid_sample's [-1, 1] convention, samples exactly that cell.
    point = expected_positions(scores)[0, 0]
    centre = torch.tensor([(2 * column + 1) / width - 1, (2 * row + 1) / height - 1])
    torch.testing.assert_close(point, centre)
    sampled = F.grid_sample(
        torch.arange(height * width, dtype=torch.float32).view(1, 1, height, width),
        point.view(1, 1, 1, 2),
        align_corners=False,
    )
    assert sampled.item() == pytest.approx(row * width + column, abs=1e-3)


@settings(max_examples=40, deadline=None)
@given(x=st.floats(-0.6, 0.6), y=st.floats(-0.6, 0.6), size=st.integers(16, 32))
def test_a_heatmap_places_its_keypoint_between_cells(x, y, size):
    """A bump centred anywhere, not only on a cell centre, gives its centre back: the head
    is finer than its grid (away from the border, which would cut the bump)."""
    centres = (torch.arange(size) + 0.5) * (2 / size) - 1
    spread = 2.0 / size  # one cell
    scores = -((centres.view(1, -1) - x) ** 2 + (centres.view(-1, 1) - y) ** 2) / (2 * spread**2)
    point = expected_positions(scores.view(1, 1, size, size))[0, 0]
    # Within a hundredth of a cell: the bump lies 3+ cells inside, so its cut tails weigh little.
    torch.testing.assert_close(point, torch.tensor([x, y], dtype=torch.float32), atol=0.01 * spread, rtol=0)


def test_the_heatmap_head_learns_where_a_dot_is():
    """Trained on images with one bright dot, the network with the heatmap head finds the
    dot within a quarter of a pixel on images it has not seen."""
    torch.manual_seed(0)
    size, n = 32, 320
    where = torch.randint(4, size - 4, (n, 2))
    images = torch.zeros(n, 1, size, size)
    images[torch.arange(n), 0, where[:, 1], where[:, 0]] = 1.0
    images = F.avg_pool2d(F.pad(images, (1, 1, 1, 1)), 3, stride=1) * 9
    targets = (where.float() + 0.5) * (2 / size) - 1  # pixel centres in [-1, 1]
    net = KeypointAutoencoder(
        (size, size),
        2,
        latent_dim=8,
        widths=(8, 16, 16),
        depths=(1, 1, 1),
        refine_stages=(),
        head="heatmap",
        heatmap_stages=(0, 1, 2),
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _epoch in range(25):
        for batch in torch.randperm(n - 64).split(64):
            loss = (net(images[batch], reconstruct=False)[0] - targets[batch]).abs().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        predicted = net(images[-64:], reconstruct=False)[0]
    pixels = (predicted - targets[-64:]).abs() * size / 2
    assert pixels.mean() < 0.25  # 0.03 px measured


def test_the_head_is_dense_or_heatmap():
    dense = KeypointAutoencoder((32, 32), 10, widths=(8, 16, 24), depths=(1, 1, 1))
    heatmap = KeypointAutoencoder(
        (32, 32), 10, widths=(8, 16, 24), depths=(1, 1, 1), head="heatmap", heatmap_stages=(0, 2)
    )
    assert isinstance(heatmap.head, HeatmapHead) and not isinstance(dense.head, HeatmapHead)
    assert heatmap(torch.zeros(3, 1, 32, 32), reconstruct=False)[0].shape == (3, 10)
    with pytest.raises(ValueError, match="head must be 'dense' or 'heatmap'; got 'sparse'"):
        KeypointAutoencoder((32, 32), 10, widths=(8, 16), depths=(1, 1), refine_stages=(), head="sparse")
    with pytest.raises(ValueError, match=r"heatmap_stages \[2\] are not stages"):
        KeypointAutoencoder(
            (32, 32),
            10,
            widths=(8, 16),
            depths=(1, 1),
            refine_stages=(),
            head="heatmap",
            heatmap_stages=(0, 2),
        )
    with pytest.raises(ValueError, match="at least one stage"):
        KeypointAutoencoder(
            (32, 32), 10, widths=(8, 16), depths=(1, 1), refine_stages=(), head="heatmap", heatmap_stages=()
        )
    with pytest.raises(ValueError, match="n_outputs must be even"):
        KeypointAutoencoder((32, 32), 9, widths=(8, 16), depths=(1, 1), head="heatmap", refine_stages=())


def test_the_network_gives_its_heatmaps_when_asked():
    net = KeypointAutoencoder(
        (32, 32),
        10,
        widths=(8, 16, 24),
        depths=(1, 1, 1),
        refine_stages=(),
        head="heatmap",
        heatmap_stages=(1, 2),
    )
    images = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    keypoints, reconstruction, scores = net(images, reconstruct=False, heatmaps=True)
    assert reconstruction is None and scores.shape == (3, 5, 8, 8)  # stage 1: a quarter of the image
    # Without the refinement the keypoints are the maps' means, as without heatmaps=True.
    torch.testing.assert_close(keypoints, expected_positions(scores).flatten(1))
    torch.testing.assert_close(keypoints, net(images, reconstruct=False)[0])
    dense = KeypointAutoencoder((32, 32), 10, widths=(8, 16, 24), depths=(1, 1, 1))
    with pytest.raises(ValueError, match="heatmaps=True needs the heatmap head"):
        dense(images, heatmaps=True)
