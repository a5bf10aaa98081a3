"""The scikit-learn estimator checks that skfkd's estimators are expected to fail, and why.

scikit-learn's generic checks feed tables of 2 to 10 random columns and 1-D targets. skfkd's
image estimators need images (square rows, or ``image_shape``) and its regressors (x, y)
keypoint pairs; they refuse anything else with a clear ValueError rather than guess. The
same invariants are tested on images in skfkd's own tests (named beside each reason).
"""

from __future__ import annotations

__all__ = ["expected_failed_checks"]

# sklearn's generic checks train on 2-10 columns of random numbers with a 1-D target. The
# regressor needs images (square rows, or image_shape) and x/y keypoint pairs, and says
# so with a ValueError; tests/neural/test_regressor.py checks the same invariants on
# images (dtypes, pickling, subset and order invariance, read-only memmaps, n_features_in_).
_NOT_IMAGES = "sklearn's check data are 2-10 random columns, not images; same invariant tested on images"
_NOT_KEYPOINTS = "a 1-D y is not a set of (x, y) keypoint pairs; the regressor rejects it with a clear error"
_REGRESSOR = {
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
_HOG = {
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
_LANDMARKER = dict.fromkeys(
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


_BY_CLASS = {
    "FacialKeypointRegressor": _REGRESSOR,  # AcceleratedFacialKeypointRegressor too, a subclass
    "HOGFeatures": _HOG,
    "FaceLandmarker": _LANDMARKER,
}


def expected_failed_checks(estimator):
    """The scikit-learn checks ``estimator`` is expected to fail, each with its reason.

    Pass it to scikit-learn's ``check_estimator`` (``expected_failed_checks=``) or
    ``parametrize_with_checks`` (``expected_failed_checks=expected_failed_checks``), as
    skfkd's own tests do. Estimators not listed here pass every check.

    Parameters
    ----------
    estimator : estimator
        An skfkd estimator (or an instance of a subclass of one).

    Returns
    -------
    failures : dict
        ``{check name: reason}``; empty when every check is expected to pass.

    Examples
    --------
    >>> from skfkd.preprocessing import ImageScaler
    >>> from skfkd.baselines import HOGFeatures
    >>> from skfkd.utils import expected_failed_checks
    >>> expected_failed_checks(ImageScaler())
    {}
    >>> print(expected_failed_checks(HOGFeatures())["check_fit2d_1sample"])
    the check's X has a non-square number of columns, which HOGFeatures refuses as an image
    """
    for cls in type(estimator).__mro__:
        if cls.__module__.startswith("skfkd.") and cls.__name__ in _BY_CLASS:
            return dict(_BY_CLASS[cls.__name__])
    return {}
