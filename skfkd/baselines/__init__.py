"""Classical baselines that any keypoint model should beat.

``MeanKeypointRegressor`` predicts the mean shape; ``MaskedMultiOutputRegressor`` lets
any scikit-learn regressor learn from partially annotated (NaN) keypoints;
``HOGFeatures`` describes images by their gradients; ``make_pca_ridge`` builds the
eigenface-style PCA + ridge pipeline.
"""

from skfkd.baselines._hog import HOGFeatures
from skfkd.baselines._masked import MaskedMultiOutputRegressor
from skfkd.baselines._mean import MeanKeypointRegressor
from skfkd.baselines._pipelines import make_pca_ridge

__all__ = ["HOGFeatures", "MaskedMultiOutputRegressor", "MeanKeypointRegressor", "make_pca_ridge"]
