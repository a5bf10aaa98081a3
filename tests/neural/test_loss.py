import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skfkd.neural import KeypointAutoencoderLoss, masked_keypoint_loss
from skfkd.neural._loss import _WING_WIDTH, KEYPOINT_LOSSES, heatmap_divergence

KINDS = sorted(KEYPOINT_LOSSES)


@pytest.mark.parametrize("kind", KINDS)
def test_every_loss_ignores_unannotated_coordinates(kind):
    prediction = torch.tensor([[0.1, 5.0, -0.2, 7.0]], requires_grad=True)
    target = torch.tensor([[0.0, float("nan"), 0.0, float("nan")]])
    loss = masked_keypoint_loss(prediction, target, kind)
    annotated_only = masked_keypoint_loss(prediction[:, [0, 2]], target[:, [0, 2]], kind)
    assert loss.item() == pytest.approx(annotated_only.item())
    loss.backward()
    assert prediction.grad[0, 1] == 0 and prediction.grad[0, 3] == 0 and prediction.grad[0, 0] > 0


@pytest.mark.parametrize("kind", KINDS)
@given(st.floats(-3, 3))
def test_losses_are_zero_at_the_target_and_grow_with_the_error(kind, error):
    loss = KEYPOINT_LOSSES[kind]
    assert loss(torch.tensor(0.0)).item() == pytest.approx(0.0, abs=1e-7)
    assert loss(torch.tensor(error)).item() == pytest.approx(loss(torch.tensor(-error)).item(), rel=1e-6)
    assert loss(torch.tensor(abs(error) + 0.1)).item() > loss(torch.tensor(abs(error))).item()


def test_wing_loss_is_continuous_where_it_turns_linear():
    below, above = KEYPOINT_LOSSES["wing"](
        torch.tensor([_WING_WIDTH - 1e-6, _WING_WIDTH + 1e-6], dtype=torch.float64)
    )
    assert below.item() == pytest.approx(above.item(), abs=1e-5)


def test_unknown_keypoint_loss_is_refused():
    with pytest.raises(ValueError, match="keypoint_loss must be one of"):
        KeypointAutoencoderLoss(keypoint_loss="huber")


def test_reconstruction_is_compared_at_its_own_resolution():
    loss = KeypointAutoencoderLoss(autoencoder_weight=1.0)
    images = torch.arange(16.0).reshape(1, 1, 4, 4)
    pooled = torch.nn.functional.avg_pool2d(images, 2)
    target = torch.zeros(1, 2)
    assert loss((torch.zeros(1, 2), pooled), target, images).item() == pytest.approx(0.0)
    assert loss((torch.zeros(1, 2), pooled + 1), target, images).item() == pytest.approx(1.0)


def _log_gaussian(points, height, width, sigma=1.0):
    """Scores whose softmax is a Gaussian of ``sigma`` cells on each point (n, k, 2)."""
    xs = (torch.arange(width) + 0.5) * (2 / width) - 1
    ys = (torch.arange(height) + 0.5) * (2 / height) - 1
    dx = (xs - points[..., :1]) / (sigma * 2 / width)
    dy = (ys - points[..., 1:]) / (sigma * 2 / height)
    return -0.5 * (dy.square().unsqueeze(-1) + dx.square().unsqueeze(-2))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.9, 0.9), min_size=4, max_size=4), st.integers(4, 24), st.integers(4, 24))
def test_heatmap_divergence_is_zero_on_the_gaussian_and_bounded_elsewhere(coordinates, height, width):
    target = torch.tensor([coordinates])
    points = target.unflatten(1, (2, 2))
    assert heatmap_divergence(_log_gaussian(points, height, width), target).item() == pytest.approx(
        0, abs=1e-5
    )
    uniform = heatmap_divergence(torch.zeros(1, 2, height, width), target).item()
    moved = heatmap_divergence(_log_gaussian(-points, height, width), target).item()
    assert 0 < uniform < math.log(2) and 0 <= moved < math.log(2) + 1e-6


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1.2, 1.2), min_size=4, max_size=4),
    st.integers(2, 16),
    st.integers(2, 16),
    st.floats(0.3, 3.0),
    st.floats(0.1, 30.0),
)
def test_heatmap_divergence_is_jensen_shannon_over_the_whole_map(
    coordinates, height, width, sigma, sharpness
):
    # The loss builds the Gaussian from one normalised factor per axis; this one from the
    # whole map, in double precision.
    target = torch.tensor([coordinates])
    scores = torch.randn(1, 2, height, width, generator=torch.Generator().manual_seed(height * width))
    scores = scores * sharpness
    heatmap = scores.double().flatten(2).softmax(-1)
    gaussian = (
        _log_gaussian(target.double().unflatten(1, (2, 2)), height, width, sigma).flatten(2).softmax(-1)
    )
    mixture = (heatmap + gaussian) / 2

    def to_mixture(p):
        return torch.where(p > 0, p * (p / mixture).log(), 0.0).sum(-1)

    expected = (0.5 * (to_mixture(heatmap) + to_mixture(gaussian))).mean().item()
    got = heatmap_divergence(scores, target, sigma).item()
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_heatmap_divergence_leaves_out_unannotated_keypoints():
    scores = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    target = torch.tensor([[0.1, 0.2, float("nan"), float("nan"), -0.3, 0.4]])
    divergence = heatmap_divergence(scores, target)
    annotated_only = heatmap_divergence(scores[:, [0, 2]], target[:, [0, 1, 4, 5]])
    assert divergence.item() == pytest.approx(annotated_only.item())
    divergence.backward()
    assert scores.grad[0, 1].abs().sum() == 0 and scores.grad[0, 0].abs().sum() > 0
    assert heatmap_divergence(scores, torch.full((1, 6), float("nan"))).item() == 0


def test_the_heatmap_term_joins_the_loss_only_with_its_weight_and_the_maps():
    target = torch.tensor([[0.5, -0.5]])
    keypoints, images = torch.tensor([[0.5, -0.5]]), torch.zeros(1, 1, 4, 4)
    maps = torch.zeros(1, 1, 6, 6)
    weighted = KeypointAutoencoderLoss(keypoint_loss="l1", heatmap_weight=2.0)
    assert weighted((keypoints, None, maps), target, images).item() == pytest.approx(
        2 * heatmap_divergence(maps, target).item()
    )
    assert weighted((keypoints, None), target, images).item() == 0
    assert KeypointAutoencoderLoss(keypoint_loss="l1")((keypoints, None, maps), target, images).item() == 0
