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

# sklearn's generic checks train on 2-10 columns of random numbers with a 1-D target. The
# regressor needs images (square rows, or image_shape) and x/y keypoint pairs, and says
# so with a ValueError; tests/neural/test_regressor.py checks the same invariants on
# images (dtypes, pickling, subset and order invariance, read-only memmaps, n_features_in_).
_NOT_IMAGES = "sklearn's check data are 2-10 random columns, not images; same invariant tested on images"
_NOT_KEYPOINTS = "a 1-D y is not a set of (x, y) keypoint pairs; the regressor rejects it with a clear error"
REGRESSOR_EXPECTED_FAILURES = {
    **dict.fromkeys(
        [
            "check_dict_unchanged",
            "check_dont_overwrite_parameters",
            "check_dtype_object",
            "check_estimators_dtypes",
            "check_estimators_fit_returns_self",
            "check_estimators_nan_inf",
            "check_estimators_overwrite_params",
            "check_estimators_partial_fit_n_features",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_fit2d_1feature",
            "check_fit2d_1sample",
            "check_fit2d_predict1d",
            "check_fit_check_is_fitted",
            "check_fit_idempotent",
            "check_fit_score_takes_y",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_n_features_in",
            "check_pipeline_consistency",
            "check_positive_only_tag_during_fit",
            "check_readonly_memmap_input",
            "check_regressor_data_not_an_array",
            "check_regressor_multioutput",
            "check_regressors_int",
            "check_regressors_train",
            "check_supervised_y_2d",
        ],
        _NOT_IMAGES,
    ),
    "check_n_features_in_after_fitting": _NOT_KEYPOINTS,
    "check_regressors_no_decision_function": _NOT_KEYPOINTS,
    "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_",
}

# These checks feed tables of 2, 3, 5 or 10 columns, which are not square images, and
# HOGFeatures refuses a non-square width without image_shape rather than guess a shape.
# tests/baselines/test_hog.py covers the same ground (pickling, idempotence, dtypes,
# NaN, sample order and subsets, feature counts) on real image stacks.
_NOT_AN_IMAGE = "the check's X has a non-square number of columns, which HOGFeatures refuses as an image"
HOG_EXPECTED_FAILED_CHECKS = {
    name: _NOT_AN_IMAGE
    for name in (
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_estimators_pickle(readonly_memmap=True)",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_pipeline_consistency",
        "check_readonly_memmap_input",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_general(readonly_memmap=True)",
        "check_transformer_preserve_dtypes",
    )
}

# FaceLandmarker takes a list of photos (any sizes) and keypoints per face, and predicts a
# list of faces per photo: no check can feed it a feature matrix. It refuses one with a
# ValueError that says to pass a list of photos. tests/faces/test_landmarker.py covers
# what these checks would (fit returns self, seeded reproducibility, unfitted errors,
# bad input) on photos, and tests/test_cli.py pickles a fitted one.
_PHOTOS = "takes a list of photos and keypoints per face, not a feature matrix; tested on photos instead"
LANDMARKER_EXPECTED_FAILURES = dict.fromkeys(
    [
        "check_complex_data",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimator_sparse_tag",
        "check_estimators_dtypes",
        "check_estimators_empty_data_messages",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_estimators_pickle(readonly_memmap=True)",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
    ],
    _PHOTOS,
)


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
    FaceLandmarker(make_pca_ridge(2), n_calibration=0, verify_faces=False),
]
EXPECTED_FAILURES = {
    FaceLandmarker: LANDMARKER_EXPECTED_FAILURES,
    FacialKeypointRegressor: REGRESSOR_EXPECTED_FAILURES,
    AcceleratedFacialKeypointRegressor: REGRESSOR_EXPECTED_FAILURES,
    HOGFeatures: HOG_EXPECTED_FAILED_CHECKS,
}


# HistogramEqualizer equalises the checks' non-square rows as 1-pixel-high strips and, as
# documented, warns about it.
@pytest.mark.filterwarnings("ignore:X has .* columns, which is not a square image:UserWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES.get(type(est), {}))
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
        FaceLandmarker(make_pca_ridge(2), n_calibration=0, verify_faces=False),
        KeypointAugmenter(),
        HOGFeatures(),
        ImageScaler(),
        HistogramEqualizer(),
    ],
    ids=lambda estimator: type(estimator).__name__,
)
def test_every_parameter_is_validated_against_its_constraints(estimator):
    check_param_validation(type(estimator).__name__, estimator)
