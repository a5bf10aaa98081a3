"""Cross-validate the CNN against PCA + ridge, grouped by identity, scored by NME.

Faces of one person look alike, so a fair estimate of accuracy on new people holds out
whole identities: ``cross_validate(..., groups=identities, cv=GroupKFold(...))``. The
score is skfkd's ``nme_scorer``, the negated normalised mean error (greater is better,
like sklearn's ``neg_*`` scorers).

Runs on the YouTube faces when ``SKFKD_DATA`` points at the real data, on synthetic faces
otherwise. ``SKFKD_EXAMPLES_QUICK=1`` shrinks everything to a smoke test.
"""

import os

import numpy as np
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline

from skfkd import FacialKeypointRegressor
from skfkd.baselines import make_pca_ridge
from skfkd.datasets import get_data_home, load_youtube_faces, make_faces
from skfkd.metrics import nme_scorer
from skfkd.preprocessing import ImageScaler

quick = os.environ.get("SKFKD_EXAMPLES_QUICK") == "1"
youtube = get_data_home() / "youtube_faces_68"
if youtube.is_dir() and not quick:
    faces = load_youtube_faces(youtube)
    X, y, groups = faces.data, faces.target, faces.identities
else:
    faces = make_faces(400 if quick else 3000, random_state=0)
    X, y = faces.data, faces.target
    groups = np.arange(len(X)) % 20  # stand-in identities for the synthetic faces

models = {
    "PCA + ridge": make_pca_ridge(random_state=0),
    "FacialKeypointRegressor": make_pipeline(
        ImageScaler(),
        # Inside cross-validation every fold trains on all of its rows: no inner split.
        FacialKeypointRegressor(max_epochs=2 if quick else 40, train_split=None, random_state=0),
    ),
}
cv = GroupKFold(n_splits=3)
for name, model in models.items():
    scores = cross_validate(model, X, y, groups=groups, cv=cv, scoring=nme_scorer)
    nme = -scores["test_score"]
    print(
        f"{name:<18} NME {nme.mean():.2%} +/- {nme.std():.2%} over {cv.get_n_splits()} identity-grouped folds"
    )
