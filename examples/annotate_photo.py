"""Train a FaceLandmarker on the YouTube Faces photos and annotate the astronaut.

The landmarker learns from whole photos with their 68 landmarks: it trains the
FacialKeypointRegressor on face crops, calibrates scikit-image's face detector to the
landmark framing, and learns to reject the detector's false alarms. Then it finds the
face in ``skimage.data.astronaut()``, predicts its 68 keypoints in photo pixels, and
draws them into ``astronaut_keypoints.png`` in the current folder.

Needs the YouTube faces (``SKFKD_DATA`` pointing at the folder that holds
``youtube_faces_68``) and matplotlib (``pip install skfkd[plot]``). About 5 minutes on a
2-core CPU; ``SKFKD_EXAMPLES_QUICK=1`` trains on a tenth of the photos for 2 epochs.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from skimage.data import astronaut

from skfkd import FacialKeypointRegressor
from skfkd.datasets import load_youtube_faces
from skfkd.faces import FaceLandmarker
from skfkd.plotting import plot_keypoints

quick = os.environ.get("SKFKD_EXAMPLES_QUICK") == "1"
faces = load_youtube_faces(crop_size=None)  # the photos and their landmarks
step = 10 if quick else 1
landmarker = FaceLandmarker(
    FacialKeypointRegressor(max_epochs=2 if quick else 60, random_state=0),
    n_calibration=40 if quick else 200,
    max_faces=1,  # a portrait: the largest face only
    random_state=0,
)
landmarker.fit(list(faces.images[::step]), faces.keypoints[::step])

photo = astronaut()
(keypoints,) = landmarker.predict([photo])  # one array of faces per photo
print(f"found {len(keypoints)} face(s) in the astronaut photo")

figure, ax = plt.subplots(figsize=(6, 6))
ax.imshow(photo)
for face in keypoints:
    plot_keypoints(None, face, ax=ax, s=6)
ax.set_xlim(-0.5, photo.shape[1] - 0.5)
ax.set_ylim(photo.shape[0] - 0.5, -0.5)
figure.savefig("astronaut_keypoints.png", dpi=100, bbox_inches="tight")
print("wrote astronaut_keypoints.png")
