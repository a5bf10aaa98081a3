"""Other libraries' keypoint models wrapped for the benchmarks, when they are installed."""

from __future__ import annotations

import numpy as np
from skimage.transform import resize
from sklearn.base import BaseEstimator, RegressorMixin

from skfkd import to_keypoints, to_targets


class DlibShapePredictor(RegressorMixin, BaseEstimator):
    """dlib's ensemble of regression trees (Kazemi and Sullivan, 2014) on face crops.

    dlib stores landmarks as integer pixels, which on a 96-pixel crop would add up to half
    a pixel of rounding error; the crops are therefore up-scaled ``upscale`` times for dlib
    and the predictions scaled back. The face box is the whole crop. Training options are
    dlib's defaults (those of its 68-point model's recipe) unless given.
    """

    def __init__(
        self, upscale=4, tree_depth=4, cascade_depth=10, oversampling_amount=20, nu=0.1, num_threads=2
    ):
        self.upscale = upscale
        self.tree_depth = tree_depth
        self.cascade_depth = cascade_depth
        self.oversampling_amount = oversampling_amount
        self.nu = nu
        self.num_threads = num_threads

    def _images(self, X):
        side = int(round(np.sqrt(X.shape[1])))
        size = side * self.upscale
        return [
            np.ascontiguousarray(
                np.clip(
                    resize(row.reshape(side, side), (size, size), order=1, preserve_range=True), 0, 255
                ).astype(np.uint8)
            )
            for row in X
        ], size

    def box_for(self, X):
        """dlib's face box on the crops of ``X``: the whole up-scaled crop."""
        import dlib

        size = int(round(np.sqrt(np.shape(X)[1]))) * self.upscale
        return dlib.rectangle(0, 0, size - 1, size - 1)

    def fit(self, X, y):
        import dlib

        images, _ = self._images(np.asarray(X, dtype=float))
        box = self.box_for(X)
        scaled = (to_keypoints(np.asarray(y, dtype=float)) + 0.5) * self.upscale - 0.5
        objects = [
            [dlib.full_object_detection(box, [dlib.point(int(round(px)), int(round(py))) for px, py in face])]
            for face in scaled
        ]
        options = dlib.shape_predictor_training_options()
        options.tree_depth = self.tree_depth
        options.cascade_depth = self.cascade_depth
        options.oversampling_amount = self.oversampling_amount
        options.nu = self.nu
        options.num_threads = self.num_threads
        options.be_verbose = False
        self.predictor_ = dlib.train_shape_predictor(images, objects, options)
        self.box_ = box
        return self

    def predict(self, X):
        images, _ = self._images(np.asarray(X, dtype=float))
        faces = []
        for image in images:
            shape = self.predictor_(image, self.box_)
            faces.append([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)])
        return to_targets((np.asarray(faces, dtype=float) + 0.5) / self.upscale - 0.5)
