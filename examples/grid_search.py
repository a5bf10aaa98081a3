"""Tune the regressor's hyper-parameters with GridSearchCV.

The regressor's own parameters (``autoencoder_weight``, ``lr``), its module's
(``module__hidden_dim``) and its augmenter's (``augmentation__rotation``) are all ordinary
sklearn parameters. Model selection scores each candidate with ``rmse_scorer`` (the
negated pixel RMSE) on grouped folds.

``SKFKD_EXAMPLES_QUICK=1`` shrinks everything to a smoke test.
"""

import os

import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold

from skfkd import FacialKeypointRegressor
from skfkd.augmentation import KeypointAugmenter
from skfkd.datasets import make_faces
from skfkd.metrics import rmse_scorer

quick = os.environ.get("SKFKD_EXAMPLES_QUICK") == "1"
X, y = make_faces(160 if quick else 2000, random_state=0, return_X_y=True)
groups = np.arange(len(X)) % 10

model = FacialKeypointRegressor(
    augmentation=KeypointAugmenter(), max_epochs=1 if quick else 30, train_split=None, random_state=0
)
grid = {
    "autoencoder_weight": [0.0, 0.01],
    "augmentation__rotation": [0.0, 15.0],
}
search = GridSearchCV(model, grid, cv=GroupKFold(n_splits=2 if quick else 3), scoring=rmse_scorer, verbose=1)
search.fit(X, y, groups=groups)
print("best parameters:", search.best_params_)
print(f"best RMSE: {-search.best_score_:.2f} px")
