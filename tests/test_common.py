"""sklearn's estimator checks on every skfkd estimator, with expected failures explained."""

import pytest
from accelerate import Accelerator
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from skfkd import FacialKeypointRegressor
from skfkd.augmentation import KeypointAugmenter
from skfkd.baselines import HOGFeatures, MaskedMultiOutputRegressor, MeanKeypointRegressor, make_pca_ridge
from skfkd.faces import FaceLandmarker
from skfkd.neural import AcceleratedFacialKeypointRegressor
from skfkd.preprocessing import HistogramEqualizer, ImageScaler
from skfkd.utils import expected_failed_checks

# skfkd.deploy.OnnxKeypointRegressor is left out: it is predict-only (an exported graph; fit
# raises TypeError), and nearly every check starts by fitting. tests/deploy/test_onnx.py
# covers what applies to it: clone, pickling, score, dtypes, bad shapes, NaN, batch sizes.
# A network small enough for the checks' many fits.
TINY_NETWORK = {
    "module__widths": (4, 8, 8),
    "module__depths": (1, 1, 1),
    "module__decoder_widths": (4,),
    "latent_dim": 8,
    "max_epochs": 2,
    "random_state": 0,
}
ESTIMATORS = [
    FacialKeypointRegressor(**TINY_NETWORK),
    # The same checks in one process (the multi-process behaviour: tests/neural/test_distributed.py).
    AcceleratedFacialKeypointRegressor(accelerator=Accelerator(cpu=True), **TINY_NETWORK),
    MeanKeypointRegressor(),
    MaskedMultiOutputRegressor(Ridge()),
    MaskedMultiOutputRegressor(Ridge(), group_by_mask=False),
    # 1x1 cells and blocks, so that the square tables the checks use are valid images.
    HOGFeatures(pixels_per_cell=(1, 1), cells_per_block=(1, 1)),
    ImageScaler(),
    ImageScaler(method="standardize"),
    ImageScaler(max_value=255),
    HistogramEqualizer(),
    FaceLandmarker(make_pca_ridge(2), n_calibration=0),
]


# HistogramEqualizer equalises the checks' non-square rows as 1-pixel-high strips and, as
# documented, warns about it.
@pytest.mark.filterwarnings("ignore:X has .* columns, which is not a square image:UserWarning")
# The expected failures and their reasons are public: skfkd.utils.expected_failed_checks.
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# Every skfkd estimator declares its parameters' constraints and checks them where they are
# used (fit here; predict too for those a model file can carry): sklearn's own check sets
# each parameter to a value of a wrong type, then to a wrong value of the right type, and
# expects fit to name the parameter.
@pytest.mark.filterwarnings("ignore:X has .* columns, which is not a square image:UserWarning")
@pytest.mark.parametrize(
    "estimator",
    [
        # module__* parameters would be skorch's, outside the constraints: the defaults here.
        FacialKeypointRegressor(max_epochs=1),
        FaceLandmarker(make_pca_ridge(2), n_calibration=0),
        KeypointAugmenter(),
        HOGFeatures(),
        ImageScaler(),
        HistogramEqualizer(),
    ],
    ids=lambda estimator: type(estimator).__name__,
)
def test_every_parameter_is_validated_against_its_constraints(estimator):
    check_param_validation(type(estimator).__name__, estimator)
