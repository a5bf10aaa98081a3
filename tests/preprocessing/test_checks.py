"""scikit-learn's estimator checks, all of them, for the image transformers."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfkd.preprocessing import HistogramEqualizer, ImageScaler


# The checks feed 2-D data with 2, 3, 5 ... columns, which HistogramEqualizer equalises as
# 1-pixel-high strips and, as documented, warns about.
@pytest.mark.filterwarnings("ignore:X has .* columns, which is not a square image:UserWarning")
@parametrize_with_checks(
    [
        ImageScaler(),
        ImageScaler(method="standardize"),
        ImageScaler(max_value=255),
        HistogramEqualizer(),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
