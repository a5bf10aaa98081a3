"""Train one model on two photo sources of different sizes: YouTube frames and LFPW.

``load_youtube_faces`` and ``load_landmark_folder`` (a folder of photos with 300-W
``.pts`` files) frame every face the same way and cut crops of one size, whatever the
photo size (YouTube frames are about 200 pixels wide, LFPW photos up to 3000), so their
``data`` and ``target`` simply concatenate. ``sources`` tells the rows apart. People are
held out from YouTube by identity and LFPW photos by file, and each source is scored on
its own held-out part.

Needs the shared photos (``SKFKD_DATA`` pointing at the folder that holds
``youtube_faces_68`` and ``lfpw68_train``). ``SKFKD_EXAMPLES_QUICK=1`` trains on a
subset for 2 epochs.
"""

import os

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

from skfkd import FacialKeypointRegressor
from skfkd.datasets import get_data_home, load_landmark_folder, load_youtube_faces
from skfkd.metrics import normalized_mean_error

quick = os.environ.get("SKFKD_EXAMPLES_QUICK") == "1"
youtube = load_youtube_faces()
lfpw = load_landmark_folder(get_data_home() / "lfpw68_train")
print(f"{len(youtube.data)} YouTube frames and {len(lfpw.data)} LFPW photos, all cropped to 96x96")

by_person = GroupShuffleSplit(test_size=0.2, random_state=0)
yt_train, yt_test = next(by_person.split(youtube.data, groups=youtube.identities))
lf_train, lf_test = next(ShuffleSplit(n_splits=1, test_size=0.2, random_state=0).split(lfpw.data))
if quick:
    yt_train, lf_train = yt_train[::10], lf_train[::10]

X = np.concatenate([youtube.data[yt_train], lfpw.data[lf_train]])
y = np.concatenate([youtube.target[yt_train], lfpw.target[lf_train]])
sources = np.concatenate([youtube.sources[yt_train], lfpw.sources[lf_train]])
print("training faces per source:", dict(zip(*np.unique(sources, return_counts=True))))

model = FacialKeypointRegressor(max_epochs=2 if quick else 60, random_state=0).fit(X, y)
for name, faces, test in [("YouTube", youtube, yt_test), ("LFPW", lfpw, lf_test)]:
    nme = normalized_mean_error(faces.target[test], model.predict(faces.data[test]))
    print(f"held-out {name}: NME {nme:.2%} on {len(test)} faces")
