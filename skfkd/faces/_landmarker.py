"""FaceLandmarker: a keypoint regressor put to work on whole photos."""

from __future__ import annotations

import numbers
import sys
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skfkd._crop import DEFAULT_CROP_MARGIN, keypoints_to_crop, landmark_boxes
from skfkd._layout import to_keypoints, to_targets
from skfkd._params import (
    HasMethods,
    Integral,
    Interval,
    Real,
    check_params,
    non_negative_int,
    positive_int,
)
from skfkd.faces._detect import _overlap_of_smaller, detect_faces
from skfkd.faces._framing import _as_photos, crop_faces, uncrop_keypoints

__all__ = ["FaceLandmarker", "match_faces"]

# Bounds of what FaceLandmarker accepts: a third pass already changed NME by < 0.1%.
MAX_REFINEMENTS = 10
MAX_CROP_SIZE = 1024


class FaceLandmarker(BaseEstimator):
    """Keypoints on whole photos: find the faces, crop them, regress, map back.

    ``fit`` takes photos with keypoints in photo pixels and trains three things from them:

    - the keypoint ``regressor`` on face crops framed as every skfkd loader frames them
      (a square around the landmarks, grown by ``crop_margin``), each box randomly
      shifted and scaled by up to ``box_jitter`` so the model tolerates imprecise boxes;
    - a calibration of the face detector (:func:`detect_faces`), whose boxes sit higher
      and differ in size from the landmarks' box: the median offset and scale, measured
      on up to ``n_calibration`` training photos;
    - with ``verify_faces``, a face/non-face check (HOG features and logistic
      regression) that drops the detector's false alarms, trained on the training faces
      and on photo regions away from them.

    ``predict`` then detects (or takes given boxes), crops and predicts, then
    ``n_refinements`` times crops again around the last prediction, so that later passes
    see the framing the regressor was trained on.

    Parameters
    ----------
    regressor : estimator, default=None
        A keypoint regressor taking ``X`` crops (``(n, crop_size**2)``) and pixel
        targets, cloned in ``fit``. None uses
        ``FacialKeypointRegressor(random_state=random_state)``.
    crop_size : int, default=96
        Side of the crops given to the regressor.
    crop_margin : float, default=0.1
        Margin around the landmarks' box, as a fraction of its longer side.
    box_jitter : float, default=0.1
        Largest random shift (fraction of the box side, on each axis) and log-scale
        change of the training boxes. 0 trains on exact framings.
    n_refinements : int, default=2
        Passes that re-frame the crop on the previous prediction and predict again. On
        a quarter of the held-out YouTube identities' photos with detector boxes, NME fell from 8.7% (none) to
        7.8% (one) and 7.6% (two); a third pass changed it by less than 0.1%.
    verify_faces : bool, default=True
        Drop detections that the face check rejects. Boxes given to :meth:`predict` are
        never dropped.
    n_calibration : int, default=200
        Training photos (drawn at random) on which the detector is calibrated and the
        face check finds its negatives. 0 skips both: detector boxes are then used as
        landmark boxes, and ``verify_faces`` must be False.
    detector_params : dict, default=None
        Keyword arguments for :func:`detect_faces`.
    max_faces : int or None, default=None
        Keep at most this many detected faces per photo, the largest first (1 for
        headshots and portraits). None keeps every face that passes the face check.
    random_state : int, RandomState instance or None, default=None
        Seeds the box jitter, the calibration sample and the default regressor.
    verbose : int, default=0
        Print progress of the calibration and the training.

    Attributes
    ----------
    regressor_ : estimator
        The fitted keypoint regressor.
    box_calibration_ : ndarray of shape (3,)
        ``[dx, dy, log_scale]``: the landmarks' box centre sits ``(dx, dy)`` detector-box
        sides from the detector box's centre, and its longer side is
        ``exp(log_scale)`` times the detector box's side (medians).
    n_calibration_faces_ : int
        Training faces the detector found and the calibration used.
    face_verifier_ : Pipeline or None
        The face check (``predict_proba`` on crops), None without ``verify_faces``.
    n_keypoints_ : int
        Keypoints per face.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.baselines import make_pca_ridge
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.faces import FaceLandmarker
    >>> faces = make_faces(60, random_state=0)
    >>> photos = list(faces.data.reshape(-1, 96, 96))
    >>> keypoints = faces.target.reshape(-1, 15, 2)
    >>> landmarker = FaceLandmarker(make_pca_ridge(20), n_calibration=0, verify_faces=False)
    >>> landmarker = landmarker.fit(photos, keypoints)
    >>> boxes = [[[20.0, 20.0, 56.0, 56.0]]]  # one face box for one photo
    >>> [faces_in_photo.shape for faces_in_photo in landmarker.predict(photos[:1], boxes=boxes)]
    [(1, 15, 2)]
    """

    def __init__(
        self,
        regressor=None,
        *,
        crop_size=96,
        crop_margin=DEFAULT_CROP_MARGIN,
        box_jitter=0.1,
        n_refinements=2,
        verify_faces=True,
        n_calibration=200,
        detector_params=None,
        max_faces=None,
        random_state=None,
        verbose=0,
    ):
        self.regressor = regressor
        self.crop_size = crop_size
        self.crop_margin = crop_margin
        self.box_jitter = box_jitter
        self.n_refinements = n_refinements
        self.verify_faces = verify_faces
        self.n_calibration = n_calibration
        self.detector_params = detector_params
        self.max_faces = max_faces
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    def fit(self, images, keypoints):
        """Train the regressor, calibrate the detector and train the face check.

        Parameters
        ----------
        images : sequence of ndarray
            Photos, one per face (repeat a photo for each annotated face in it).
        keypoints : array-like of shape (n_faces, n_keypoints, 2) or (n_faces, 2 * n_keypoints)
            Keypoints in photo pixels, NaN where not annotated.

        Returns
        -------
        self : FaceLandmarker
        """
        self._check_params()
        photos = _as_photos(images)
        keypoints = self._as_keypoints(keypoints, len(photos))
        rng = check_random_state(self.random_state)
        face_boxes = landmark_boxes(keypoints)

        X, y = self._training_crops(photos, keypoints, face_boxes, rng)
        self._say(f"Training the keypoint regressor on {len(X)} faces ...")
        self.regressor_ = clone(self._default_regressor()).fit(X, y)
        self.n_keypoints_ = keypoints.shape[1]

        self.box_calibration_ = np.zeros(3)
        self.n_calibration_faces_ = 0
        self.face_verifier_ = None
        if self.n_calibration:
            sample = np.sort(rng.choice(len(photos), min(self.n_calibration, len(photos)), replace=False))
            matched, misses = self._calibrate(photos, face_boxes, sample)
            if self.verify_faces:
                self.face_verifier_ = self._fit_verifier(photos, face_boxes, sample, X, matched, misses, rng)
        return self

    def partial_fit(self, images, keypoints):
        """Fine-tune the fitted regressor on more annotated photos.

        The photos are framed as :meth:`fit` frames them (landmark boxes with the random
        ``box_jitter``) and the regressor trains on from its current weights with its own
        ``partial_fit`` (``max_epochs`` more epochs for a
        :class:`~skfkd.FacialKeypointRegressor`; lower its ``lr`` for a gentle
        fine-tuning). The detector calibration and the face check stay as they were. On
        a landmarker that is not fitted yet, this is :meth:`fit`.

        Parameters
        ----------
        images : sequence of ndarray
            Photos, one per face.
        keypoints : array-like of shape (n_faces, n_keypoints, 2) or (n_faces, 2 * n_keypoints)
            Keypoints in photo pixels, NaN where not annotated; the same points as the
            landmarker predicts.

        Returns
        -------
        self : FaceLandmarker
        """
        if not hasattr(self, "regressor_"):
            return self.fit(images, keypoints)
        self._check_params()
        photos = _as_photos(images)
        keypoints = self._as_keypoints(keypoints, len(photos))
        if keypoints.shape[1] != self.n_keypoints_:
            raise ValueError(
                f"the landmarker predicts {self.n_keypoints_} keypoints; these photos have {keypoints.shape[1]}"
            )
        if not hasattr(self.regressor_, "partial_fit"):
            raise TypeError(
                f"the regressor ({type(self.regressor_).__name__}) cannot train on: no partial_fit"
            )
        # With an int seed, jitter of its own for these photos (not fit's again), reproducibly.
        seed = self.random_state
        rng = (
            np.random.RandomState([seed, len(photos)])
            if isinstance(seed, numbers.Integral)
            else check_random_state(seed)
        )
        X, y = self._training_crops(photos, keypoints, landmark_boxes(keypoints), rng)
        self._say(f"Fine-tuning the keypoint regressor on {len(X)} faces ...")
        self.regressor_.partial_fit(X, y)
        return self

    def _training_crops(self, photos, keypoints, face_boxes, rng):
        """Crops of the faces along jittered landmark boxes, and their keypoints there."""
        X, crop_boxes = crop_faces(photos, _jitter(face_boxes, self.box_jitter, rng), **self._framing)
        return X, to_targets(keypoints_to_crop(keypoints, crop_boxes, self.crop_size))

    # Checked in fit and at every use, so that a value set later, or read from a model
    # file, cannot make predict misbehave (n_refinements=10**9 would never end).
    _parameter_constraints = {
        "regressor": [HasMethods(["fit", "predict"]), None],
        "crop_size": [Interval(Integral, 8, MAX_CROP_SIZE, closed="both")],
        "crop_margin": [Interval(Real, 0, 1, closed="both")],
        "box_jitter": [Interval(Real, 0, 0.5, closed="left")],
        "n_refinements": [Interval(Integral, 0, MAX_REFINEMENTS, closed="both")],
        "verify_faces": ["boolean"],
        "n_calibration": [non_negative_int],
        "detector_params": [dict, None],
        "max_faces": [positive_int, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _check_params(self):
        check_params(self._parameter_constraints, self.get_params(deep=False), type(self).__name__)
        if self.verify_faces and not self.n_calibration:
            raise ValueError("verify_faces=True learns from calibration photos: set n_calibration > 0")

    def _check_fitted(self):
        """The parameters, and the fitted state that predict relies on (a model file sets it)."""
        check_is_fitted(self, "regressor_")
        self._check_params()
        calibration = np.asarray(self.box_calibration_)
        if calibration.shape != (3,) or not np.isfinite(calibration).all() or abs(calibration[2]) > 5:
            raise ValueError("box_calibration_ must be three finite numbers [dx, dy, log_scale]")
        if not isinstance(self.n_keypoints_, (int, np.integer)) or not 0 < self.n_keypoints_ <= 10_000:
            raise ValueError(f"n_keypoints_ must be a positive int; got {self.n_keypoints_!r}")
        if self.face_verifier_ is not None and not hasattr(self.face_verifier_, "predict_proba"):
            raise ValueError("face_verifier_ must be None or a classifier with predict_proba")

    @property
    def _framing(self):
        return {"size": self.crop_size, "margin": self.crop_margin}

    def _default_regressor(self):
        if self.regressor is not None:
            return self.regressor
        from skfkd.neural import FacialKeypointRegressor

        return FacialKeypointRegressor(random_state=self.random_state, verbose=self.verbose)

    @staticmethod
    def _as_keypoints(keypoints, n):
        keypoints = np.asarray(keypoints, dtype=float)
        if keypoints.ndim == 2:
            keypoints = to_keypoints(keypoints)
        if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or len(keypoints) != n:
            raise ValueError(
                f"keypoints need shape ({n}, n_keypoints, 2) or ({n}, 2 * n_keypoints), one row per photo; "
                f"got {keypoints.shape}"
            )
        return keypoints

    def _say(self, message):
        if self.verbose:
            print(message, file=sys.stderr, flush=True)

    def _detect(self, photo):
        return detect_faces(photo, **(self.detector_params or {}))

    def _calibrate(self, photos, face_boxes, sample):
        """Measure how the detector's boxes sit on the landmarks' boxes."""
        started = time.perf_counter()
        offsets, matched, misses = [], {}, {}
        for done, i in enumerate(sample, start=1):
            boxes = self._detect(photos[i])
            best = _matching_box(boxes, face_boxes[i])
            if best is not None:
                matched[i] = boxes[best]
                offsets.append(_box_offset(boxes[best], face_boxes[i]))
            misses[i] = np.delete(boxes, [] if best is None else [best], axis=0)
            if self.verbose and (done % 50 == 0 or done == len(sample)):
                self._say(
                    f"  calibrating the face detector: {done}/{len(sample)} photos, "
                    f"{len(offsets)} faces found ({time.perf_counter() - started:.0f} s)"
                )
        self.n_calibration_faces_ = len(offsets)
        if len(offsets) < 5:
            warnings.warn(
                f"the face detector found only {len(offsets)} of {len(sample)} training faces; its boxes "
                "are used uncalibrated",
                UserWarning,
                stacklevel=3,
            )
        else:
            self.box_calibration_ = np.median(offsets, axis=0)
        return matched, misses

    def _fit_verifier(self, photos, face_boxes, sample, X_faces, matched, misses, rng):
        """A face/non-face classifier on crops: the false alarms it learns from are the
        detector's boxes away from the annotated face, and random regions of the photos."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from skfkd.baselines import HOGFeatures

        negative_photos, negative_boxes = [], []
        for i in sample:
            for box in [*self._calibrated(misses[i]), *_random_boxes(photos[i], face_boxes[i], 3, rng)]:
                negative_photos.append(photos[i])
                negative_boxes.append(box)
        if len(negative_boxes) < 10:
            raise ValueError(
                f"only {len(negative_boxes)} non-face regions found in {len(sample)} calibration photos; "
                "the photos are too tightly cropped to learn the face check: set verify_faces=False"
            )
        positives = X_faces[rng.choice(len(X_faces), min(len(X_faces), 2000), replace=False)]
        if matched:
            detected, _ = crop_faces(
                [photos[i] for i in matched],
                self._calibrated(np.array(list(matched.values()))),
                **self._framing,
            )
            positives = np.concatenate([positives, detected])
        negatives, _ = crop_faces(negative_photos, np.array(negative_boxes), **self._framing)
        self._say(f"Training the face check on {len(positives)} faces and {len(negatives)} other regions ...")
        verifier = make_pipeline(
            HOGFeatures(),
            StandardScaler(),
            LogisticRegression(C=0.01, class_weight="balanced", max_iter=2000),
        )
        labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        return verifier.fit(np.concatenate([positives, negatives]), labels)

    def _calibrated(self, boxes):
        """Landmark-like boxes from detector boxes, with the fitted calibration."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        dx, dy, log_scale = self.box_calibration_
        side = boxes[:, 2:].max(axis=1)
        centre = boxes[:, :2] + boxes[:, 2:] / 2 + np.column_stack([dx * side, dy * side])
        side = side * np.exp(log_scale)
        return np.column_stack([centre - side[:, None] / 2, side, side])

    # ------------------------------------------------------------------ predict

    def detect(self, images):
        """Face boxes per photo, as :meth:`predict` finds them.

        Returns
        -------
        boxes : list of ndarray of shape (n_faces_i, 4)
            Detector boxes ``[left, top, width, height]`` that pass the face check,
            largest first, at most ``max_faces`` per photo.
        """
        self._check_fitted()
        return self._detect_checked(_as_photos(images))

    def _detect_checked(self, photos):
        boxes = [self._detect(photo) for photo in photos]
        owners = np.repeat(np.arange(len(photos)), [len(b) for b in boxes])
        if self.face_verifier_ is not None and len(owners):
            flat = np.concatenate(boxes)
            X, _ = crop_faces([photos[i] for i in owners], self._calibrated(flat), **self._framing)
            keep = self.face_verifier_.predict_proba(X)[:, 1] >= 0.5
            boxes = [flat[(owners == i) & keep] for i in range(len(photos))]
        return [b[: self.max_faces] for b in boxes]

    def predict(self, images, boxes=None):
        """Keypoints of every face in each photo, in photo pixels.

        Parameters
        ----------
        images : sequence of ndarray
            Photos of any size (pass ``[photo]`` for one).
        boxes : sequence of array-like of shape (n_faces_i, 4), or array of shape (n, 4), default=None
            Face boxes ``[left, top, width, height]`` per photo, in the detector's sense
            (they are calibrated as detector boxes are); an ``(n, 4)`` array gives one
            face per photo. None detects the faces.

        Returns
        -------
        keypoints : list of ndarray of shape (n_faces_i, n_keypoints, 2)
            One array per photo, largest face first; ``(0, n_keypoints, 2)`` where no
            face is found.
        """
        self._check_fitted()
        photos = _as_photos(images)
        if boxes is None:
            boxes = self._detect_checked(photos)
        else:
            boxes = _as_box_lists(boxes, len(photos))
        owners = np.repeat(np.arange(len(photos)), [len(b) for b in boxes])
        empty = np.empty((0, self.n_keypoints_, 2))
        if len(owners) == 0:
            return [empty for _ in photos]
        face_photos = [photos[i] for i in owners]
        keypoints = self._predict_faces(face_photos, self._calibrated(np.concatenate(boxes)))
        for _ in range(self.n_refinements):
            keypoints = self._predict_faces(face_photos, landmark_boxes(keypoints))
        return [keypoints[owners == i] for i in range(len(photos))]

    def _predict_faces(self, photos, face_boxes):
        X, crop_boxes = crop_faces(photos, face_boxes, **self._framing)
        return uncrop_keypoints(to_keypoints(self.regressor_.predict(X)), crop_boxes, size=self.crop_size)


def _as_box_lists(boxes, n):
    if isinstance(boxes, np.ndarray) and boxes.dtype != object and boxes.ndim == 2:
        if boxes.shape != (n, 4):
            raise ValueError(f"an array of boxes needs shape ({n}, 4), one box per photo; got {boxes.shape}")
        return [box[None] for box in boxes.astype(float)]
    if len(boxes) != n:
        raise ValueError(f"boxes must give one list of boxes per photo: {n} photos, {len(boxes)} lists")
    lists = []
    for i, photo_boxes in enumerate(boxes):
        photo_boxes = np.asarray(photo_boxes, dtype=float)
        if photo_boxes.size == 0:
            photo_boxes = photo_boxes.reshape(0, 4)
        if photo_boxes.ndim != 2 or photo_boxes.shape[1] != 4:
            raise ValueError(f"boxes of photo {i} need shape (n_faces, 4); got {photo_boxes.shape}")
        if not np.isfinite(photo_boxes).all() or (photo_boxes[:, 2:] <= 0).any():
            raise ValueError(f"boxes of photo {i} need finite values and positive width and height")
        lists.append(photo_boxes)
    return lists


def _jitter(boxes, amount, rng):
    """Boxes shifted by up to ``amount`` of their longer side and scaled by up to
    ``exp(amount)``, about their centres."""
    if amount == 0:
        return boxes
    side = boxes[:, 2:].max(axis=1, keepdims=True)
    shift = rng.uniform(-amount, amount, (len(boxes), 2)) * side
    scale = np.exp(rng.uniform(-amount, amount, (len(boxes), 1)))
    centre = boxes[:, :2] + boxes[:, 2:] / 2 + shift
    size = boxes[:, 2:] * scale
    return np.column_stack([centre - size / 2, size])


def _box_offset(detected, face_box):
    """``[dx, dy, log_scale]`` from a detector box to a landmarks' box."""
    side = detected[2:].max()
    offset = (face_box[:2] + face_box[2:] / 2 - detected[:2] - detected[2:] / 2) / side
    return np.r_[offset, np.log(face_box[2:].max() / side)]


def _matching_box(boxes, face_box):
    """Index of the detector box that frames the annotated face, or None.

    A box frames the face when its centre lies inside the landmarks' box and its side is
    half to twice the landmarks' longer side; the nearest centre wins.
    """
    ratio = boxes[:, 2:].max(axis=1) / face_box[2:].max()
    return _nearest_centre_inside(boxes, face_box, (ratio >= 0.5) & (ratio <= 2))


def _nearest_centre_inside(boxes, face_box, allowed=True):
    """Index of the box (among ``allowed``) whose centre lies inside ``face_box`` nearest
    to its centre, or None."""
    if len(boxes) == 0:
        return None
    offset = boxes[:, :2] + boxes[:, 2:] / 2 - (face_box[:2] + face_box[2:] / 2)
    inside = (np.abs(offset) <= face_box[2:] / 2).all(axis=1) & allowed
    if not inside.any():
        return None
    return int(np.argmin(np.where(inside, np.linalg.norm(offset, axis=1), np.inf)))


def _random_boxes(photo, face_box, n, rng, tries=20):
    """Up to ``n`` random square boxes that barely overlap the annotated face."""
    height, width = photo.shape[:2]
    found = []
    for _ in range(tries):
        side = rng.uniform(0.5, 1.5) * face_box[2:].max()
        if side >= min(height, width):
            continue
        box = np.array([rng.uniform(0, width - side), rng.uniform(0, height - side), side, side])
        if _overlap_of_smaller(box, face_box) < 0.2:
            found.append(box)
            if len(found) == n:
                break
    return found


def match_faces(predicted, keypoints):
    """Pick, for each annotated face, the predicted face that frames it.

    Detection-based prediction finds any number of faces per photo, in its own order;
    scoring it against annotations needs the predicted face that belongs to each
    annotated one. A predicted face matches when the centre of its keypoints' box lies
    inside the annotated keypoints' box; the nearest centre wins.

    Parameters
    ----------
    predicted : list of ndarray of shape (n_faces_i, n_keypoints, 2)
        :meth:`FaceLandmarker.predict`'s output, one array per photo.
    keypoints : array-like of shape (n_photos, n_keypoints, 2) or (n_photos, 2 * n_keypoints)
        One annotated face per photo (repeat a photo for each of its faces).

    Returns
    -------
    matched : ndarray of shape (n_photos, n_keypoints, 2)
        The matching predicted face, all NaN where no predicted face matches: the
        detector missed the face. Score the found faces with
        ``~np.isnan(matched).all(axis=(1, 2))`` as a mask, and report that share.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.faces import match_faces
    >>> truth = np.array([[[10.0, 10.0], [20.0, 20.0]]])
    >>> far, near = truth + 50, truth + 1
    >>> match_faces([np.stack([far[0], near[0]])], truth)[0].tolist()
    [[11.0, 11.0], [21.0, 21.0]]
    >>> bool(np.isnan(match_faces([np.empty((0, 2, 2))], truth)).all())
    True
    """
    keypoints = np.asarray(keypoints, dtype=float)
    if keypoints.ndim == 2:
        keypoints = to_keypoints(keypoints)
    if len(predicted) != len(keypoints):
        raise ValueError(f"{len(predicted)} photos predicted but {len(keypoints)} annotated faces")
    matched = np.full(keypoints.shape, np.nan)
    truth_boxes = landmark_boxes(keypoints)
    for i, (faces, truth_box) in enumerate(zip(predicted, truth_boxes)):
        faces = np.asarray(faces, dtype=float)
        if len(faces) == 0:
            continue
        if faces.shape[1:] != keypoints.shape[1:]:
            raise ValueError(
                f"photo {i}: predicted faces of shape {faces.shape[1:]}, annotated {keypoints.shape[1:]}"
            )
        best = _nearest_centre_inside(landmark_boxes(faces), truth_box)
        if best is not None:
            matched[i] = faces[best]
    return matched
