"""The deep model: torch modules, the loss, and FacialKeypointRegressor (skorch)."""

from skfkd.neural._accelerated import AcceleratedFacialKeypointRegressor
from skfkd.neural._callbacks import TrainingCheckpoint
from skfkd.neural._inference import predict_module
from skfkd.neural._loss import KeypointAutoencoderLoss, masked_keypoint_loss, masked_mse
from skfkd.neural._modules import ConvDecoder, ConvEncoder, HeatmapHead, KeypointAutoencoder, LocalRefinement
from skfkd.neural._regressor import FacialKeypointRegressor
from skfkd.neural._state import regressor_from_state, regressor_to_state

__all__ = [
    "AcceleratedFacialKeypointRegressor",
    "ConvDecoder",
    "ConvEncoder",
    "FacialKeypointRegressor",
    "HeatmapHead",
    "KeypointAutoencoder",
    "KeypointAutoencoderLoss",
    "LocalRefinement",
    "TrainingCheckpoint",
    "masked_keypoint_loss",
    "masked_mse",
    "predict_module",
    "regressor_from_state",
    "regressor_to_state",
]
