import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from skfkd.neural import KeypointAutoencoderLoss, masked_keypoint_loss
from skfkd.neural._loss import _WING_WIDTH, KEYPOINT_LOSSES

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
