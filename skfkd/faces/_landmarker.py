"""FaceLandmarker: a keypoint regressor put to work on whole photos."""

from __future__ import annotations

import numbers
import sys
import time
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skfkd._framing import (
    CROP_MARGIN,
    CROP_SIZE,
    DEFAULT_CROP_MARGIN,
    DEFAULT_CROP_SIZE,
    crop_photos,
    eye_angles,
    frame_offset,
    frames_from_boxes,
    frames_from_keypoints,
    jitter_frames,
    keypoints_from_crop,
    keypoints_to_crop,
    landmark_boxes,
    shifted_frames,
)
from skfkd._images import as_photo_list
from skfkd._layout import resolve_layout, to_keypoints, to_targets
from skfkd._params import (
    HasMethods,
    Integral,
    Interval,
    Real,
    StrOptions,
    check_params,
    non_negative_int,
    positive_int,
)
from skfkd.faces._detect import DEFAULT_SCORE_THRESHOLD, DETECTORS, detect_faces
from skfkd.faces._matching import matching_box

__all__ = ["FaceLandmarker", "Faces"]

# Bounds of what FaceLandmarker accepts: a third pass already changed NME by < 0.1%.
MAX_REFINEMENTS = 10


class Faces(NamedTuple):
    """The faces :meth:`FaceLandmarker.predict_faces` found in one photo, largest first.

    Attributes
    ----------
    keypoints : ndarray of shape (n_faces, n_keypoints, 2)
        In photo pixels.
    boxes : ndarray of shape (n_faces, 4)
        The detector's boxes ``[left, top, width, height]`` (or the boxes given).
    scores : ndarray of shape (n_faces,)
        The detector's confidence in each face (1 for given boxes, and for detectors
        that give no score).
    """

    keypoints: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray


class FaceLandmarker(BaseEstimator):
    """Keypoints on whole photos: find the faces, frame them, regress, map back.

    ``fit`` takes photos with keypoints in photo pixels and learns two things from them:

    - the keypoint ``regressor``, on face crops framed as :func:`crop_faces` frames them
      from landmarks: turned upright by the eye line (``align``), a square around the
      landmarks grown by ``crop_margin``, with each frame's position, size and angle
      randomly changed by up to ``box_jitter`` and ``angle_jitter`` so that the model
      tolerates imprecise framings;
    - a calibration of the face detector: where the landmarks' frame sits relative to
      the detector's box and eyes (median offset, scale and turn over up to
      ``n_calibration`` training photos).

    ``predict`` then detects the faces (or takes given boxes), frames each from its
    calibrated detection (turned upright by the eyes the detector found), predicts, and
    ``n_refinements`` times frames the face again from its predicted landmarks, so that
    later passes see the framing the regressor was trained on.

    Parameters
    ----------
    regressor : estimator, default=None
        A keypoint regressor taking ``X`` crops (``(n, crop_size**2)``; with ``colour``,
        ``(n, crop_size, crop_size, 3)``) and pixel targets, cloned in ``fit``. None uses
        ``FacialKeypointRegressor(random_state=random_state)``.
    crop_size : int, default=96
        Side of the crops given to the regressor.
    crop_margin : float, default=0.1
        Margin around the landmarks' box, as a fraction of its longer side.
    align : bool, default=True
        Turn each crop upright by its eye line (the layout's ``interocular`` points in
        training and refinement, the detector's eyes in the first pass). Needs a layout
        of 15 or 68 points; with other keypoint counts crops stay upright.
    colour : bool, default=False
        Give the regressor RGB crops ``(n, crop_size, crop_size, 3)`` (a gray photo's
        value in all three channels) instead of grayscale rows ``(n, crop_size**2)``.
        The regressor must take such stacks, as :class:`~skfkd.FacialKeypointRegressor`
        does (it then trains a network on three channels). On the tuning split of the
        shared photos, with ``wild_landmarker``'s recipe at 20 epochs, colour lowered the
        NME pooled over held-out LFPW, HELEN and AFW faces from 3.79% to 3.66% (failures
        1.6% to 1.0%) and on the held-out YouTube identities from 4.54% to 4.32%, every
        source gaining, for 1.05 to 1.08 times the training time per batch.
    box_jitter : float, default=0.1
        Largest random shift (fraction of the frame's side, along each of its axes) and
        log-scale change of the training frames. 0 trains on exact framings.
    angle_jitter : float, default=10.0
        Largest random turn (degrees) of the training frames.
    n_refinements : int, default=1
        Passes that frame the face again from the previous prediction and predict again
        (at most 10). With the pretrained landmarker on the held-out photos of the four
        shared sources, one pass lowered the NME by 0.1-0.3 points against none, and a
        second changed it by less than 0.05 either way.
    shift_test : float, default=0.0
        With a positive value, the last pass (or :meth:`predict_frames`) also predicts on
        the frame moved by this fraction of its side right, left, down and up, and averages
        the five predictions in photo pixels: five crops instead of one on that pass, in
        one batch (the pretrained landmarker's time per photo measured 1.2 to 1.9 times
        that without it on a 2-core CPU). At most 0.25. 0 predicts on the frame alone.
        The pretrained landmarker uses 0.04: on the held-out photos of the four shared
        sources it lowered the NME by 0.13 to 0.17 points on each, through the detector
        as on crops framed on the true landmarks.
    detector : {"yunet", "cascade"} or callable, default="yunet"
        The face detector (see :func:`detect_faces`).
    score_threshold : float, default=0.6
        Detections YuNet scores below this are dropped.
    n_calibration : int, default=200
        Training photos (drawn at random) on which the detector is calibrated. 0 skips
        the calibration: detector boxes are then framed as landmark boxes.
    max_faces : int or None, default=None
        Keep at most this many detected faces per photo, the largest first (1 for
        headshots and portraits). None keeps every face found.
    random_state : int, RandomState instance or None, default=None
        Seeds the framing jitter, the calibration sample and the default regressor.
    verbose : int, default=0
        Print progress of the calibration and the training.

    Attributes
    ----------
    regressor_ : estimator
        The fitted keypoint regressor.
    layout_ : KeypointLayout or None
        The layout of the keypoints (None for counts without a built-in layout).
    box_calibration_ : ndarray of shape (4,)
        ``[dx, dy, log_scale, turn]``: the landmarks' frame centre sits ``(dx, dy)``
        detector-box sides from the box's centre (along the detected eye line), its
        side is ``exp(log_scale)`` times the box's longer side, and it is turned
        ``turn`` degrees from the detected eye line (medians).
    n_calibration_faces_ : int
        Training faces the detector found and the calibration used.
    n_keypoints_ : int
        Keypoints per face.

    See Also
    --------
    load_pretrained : A fitted 68-point landmarker that ships with skfkd.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd.baselines import make_pca_ridge
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.faces import FaceLandmarker
    >>> faces = make_faces(60, random_state=0)
    >>> photos = list(faces.data.reshape(-1, 96, 96))
    >>> keypoints = faces.target.reshape(-1, 15, 2)
    >>> landmarker = FaceLandmarker(make_pca_ridge(20), n_calibration=0).fit(photos, keypoints)
    >>> boxes = [[[20.0, 20.0, 56.0, 56.0]]]  # one face box for one photo
    >>> [faces_in_photo.shape for faces_in_photo in landmarker.predict(photos[:1], boxes=boxes)]
    [(1, 15, 2)]
    """

    # Checked in fit and at every use, so that a value set later, or read from a model
    # file, cannot make predict misbehave (n_refinements=10**9 would never end).
    _parameter_constraints = {
        "regressor": [HasMethods(["fit", "predict"]), None],
        "crop_size": [CROP_SIZE],
        "crop_margin": [CROP_MARGIN],
        "align": ["boolean"],
        "colour": ["boolean"],
        "box_jitter": [Interval(Real, 0, 0.5, closed="left")],
        "angle_jitter": [Interval(Real, 0, 90, closed="both")],
        "n_refinements": [Interval(Integral, 0, MAX_REFINEMENTS, closed="both")],
        "shift_test": [Interval(Real, 0, 0.25, closed="both")],
        "detector": [StrOptions(set(DETECTORS)), callable],
        "score_threshold": [Interval(Real, 0, 1, closed="both")],
        "n_calibration": [non_negative_int],
        "max_faces": [positive_int, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        regressor=None,
        *,
        crop_size=DEFAULT_CROP_SIZE,
        crop_margin=DEFAULT_CROP_MARGIN,
        align=True,
        colour=False,
        box_jitter=0.1,
        angle_jitter=10.0,
        n_refinements=1,
        shift_test=0.0,
        detector="yunet",
        score_threshold=DEFAULT_SCORE_THRESHOLD,
        n_calibration=200,
        max_faces=None,
        random_state=None,
        verbose=0,
    ):
        self.regressor = regressor
        self.crop_size = crop_size
        self.crop_margin = crop_margin
        self.align = align
        self.colour = colour
        self.box_jitter = box_jitter
        self.angle_jitter = angle_jitter
        self.n_refinements = n_refinements
        self.shift_test = shift_test
        self.detector = detector
        self.score_threshold = score_threshold
        self.n_calibration = n_calibration
        self.max_faces = max_faces
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    def fit(self, images, keypoints):
        """Train the regressor on framed crops and calibrate the detector.

        Parameters
        ----------
        images : sequence of ndarray or file paths
            Photos, one per face (repeat a photo for each annotated face in it).
        keypoints : array-like of shape (n_faces, n_keypoints, 2) or (n_faces, 2 * n_keypoints)
            Keypoints in photo pixels, NaN where not annotated.

        Returns
        -------
        self : FaceLandmarker
        """
        self._check_params()
        photos = as_photo_list(images)
        keypoints = self._as_keypoints(keypoints, len(photos))
        rng = check_random_state(self.random_state)
        self.n_keypoints_ = keypoints.shape[1]
        self.layout_ = _layout_for(self.n_keypoints_)

        X, y = self._training_crops(photos, keypoints, rng)
        self._say(f"Training the keypoint regressor on {len(X)} faces ...")
        self.regressor_ = clone(self._default_regressor()).fit(X, y)

        self.box_calibration_ = np.zeros(4)
        self.n_calibration_faces_ = 0
        if self.n_calibration:
            sample = np.sort(rng.choice(len(photos), min(self.n_calibration, len(photos)), replace=False))
            self._calibrate([photos[i] for i in sample], keypoints[sample])
        return self

    def partial_fit(self, images, keypoints):
        """Fine-tune the fitted regressor on more annotated photos.

        The photos are framed as :meth:`fit` frames them (with the random jitter) and the
        regressor trains on from its current weights with its own ``partial_fit``
        (``max_epochs`` more epochs for a :class:`~skfkd.FacialKeypointRegressor`; lower
        its ``lr`` for a gentle fine-tuning). The detector calibration stays as it was.
        On a landmarker that is not fitted yet, this is :meth:`fit`.

        Parameters
        ----------
        images : sequence of ndarray or file paths
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
        photos = as_photo_list(images)
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
        X, y = self._training_crops(photos, keypoints, rng)
        self._say(f"Fine-tuning the keypoint regressor on {len(X)} faces ...")
        self.regressor_.partial_fit(X, y)
        return self

    def _training_crops(self, photos, keypoints, rng):
        """Crops of the faces along jittered landmark frames, and their keypoints there."""
        frames = self._landmark_frames(keypoints)
        frames = jitter_frames(frames, self.box_jitter, self.angle_jitter, rng)
        return self._crops(photos, frames), to_targets(keypoints_to_crop(keypoints, frames, self.crop_size))

    def _crops(self, photos, frames):
        """The regressor's ``X``: gray rows, or RGB stacks with ``colour``."""
        crops = crop_photos(photos, frames, self.crop_size, colour=self.colour)
        return crops if self.colour else crops.reshape(len(crops), -1)

    def _landmark_frames(self, keypoints, margin=None):
        """Frames from landmarks, as training and the re-framing passes cut them."""
        margin = self.crop_margin if margin is None else margin
        return frames_from_keypoints(keypoints, margin, self._eyes())

    def _eyes(self):
        layout = getattr(self, "layout_", None)
        return layout.interocular if self.align and layout is not None else None

    def _check_params(self):
        check_params(self._parameter_constraints, self.get_params(deep=False), type(self).__name__)

    def _check_fitted(self):
        """The parameters, and the fitted state that predict relies on (a model file sets it)."""
        check_is_fitted(self, "regressor_")
        self._check_params()
        calibration = np.asarray(self.box_calibration_, dtype=float)
        if calibration.shape != (4,) or not np.isfinite(calibration).all() or abs(calibration[2]) > 5:
            raise ValueError("box_calibration_ must be four finite numbers [dx, dy, log_scale, turn]")
        if not isinstance(self.n_keypoints_, (int, np.integer)) or not 0 < self.n_keypoints_ <= 10_000:
            raise ValueError(f"n_keypoints_ must be a positive int; got {self.n_keypoints_!r}")

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
        return detect_faces(photo, detector=self.detector, score_threshold=self.score_threshold)

    def _calibrate(self, photos, keypoints):
        """Measure how the landmarks' frames sit on the detector's boxes and eyes."""
        started = time.perf_counter()
        offsets = []
        truth = self._landmark_frames(keypoints, margin=0)
        for done, (photo, face, frame) in enumerate(zip(photos, keypoints, truth), start=1):
            found = self._detect(photo)
            best = matching_box(found.boxes, landmark_boxes(face[None])[0])
            if best is not None:
                eyes = _eyes_of(found, best) if self.align else None
                detected = _detection_frames(found.boxes[best : best + 1], eyes)[0]
                offsets.append(frame_offset(detected, frame))
            if self.verbose and (done % 50 == 0 or done == len(photos)):
                self._say(
                    f"  calibrating the face detector: {done}/{len(photos)} photos, "
                    f"{len(offsets)} faces found ({time.perf_counter() - started:.0f} s)"
                )
        self.n_calibration_faces_ = len(offsets)
        if len(offsets) < 5:
            warnings.warn(
                f"the face detector found only {len(offsets)} of {len(photos)} training faces; its boxes "
                "are used uncalibrated",
                UserWarning,
                stacklevel=3,
            )
        else:
            self.box_calibration_ = np.median(offsets, axis=0)

    def _calibrated_frames(self, boxes, eyes):
        """Landmark-like frames (with the margin) from detector boxes and eyes."""
        detected = _detection_frames(boxes, eyes if self.align else None)
        dx, dy, log_scale, turn = self.box_calibration_
        radians = np.radians(detected[:, 3])
        side = detected[:, 2]
        centre_x = detected[:, 0] + (np.cos(radians) * dx - np.sin(radians) * dy) * side
        centre_y = detected[:, 1] + (np.sin(radians) * dx + np.cos(radians) * dy) * side
        side = side * np.exp(log_scale) * (1 + 2 * self.crop_margin)
        return np.column_stack([centre_x, centre_y, side, detected[:, 3] + turn])

    # ------------------------------------------------------------------ predict

    def detect(self, images):
        """The faces of each photo as :meth:`predict` finds them, without their keypoints.

        Parameters
        ----------
        images : sequence of ndarray or file paths
            Photos (pass ``[photo]`` for one).

        Returns
        -------
        detections : list of Detections
            One per photo: ``boxes``, ``scores`` and ``eyes``, largest face first, at
            most ``max_faces``.
        """
        self._check_fitted()
        return [self._detect_kept(photo) for photo in as_photo_list(images)]

    def _detect_kept(self, photo):
        found = self._detect(photo)
        keep = slice(None, self.max_faces)
        return type(found)(
            found.boxes[keep], found.scores[keep], None if found.eyes is None else found.eyes[keep]
        )

    def predict(self, images, boxes=None):
        """Keypoints of every face in each photo, in photo pixels.

        Parameters
        ----------
        images : sequence of ndarray or file paths
            Photos of any size (pass ``[photo]`` for one; see :ref:`photos` for the
            kinds accepted).
        boxes : sequence of array-like of shape (n_faces_i, 4), or array of shape (n, 4), default=None
            Face boxes ``[left, top, width, height]`` per photo, in the detector's sense
            (they are calibrated as detector boxes are, framed upright); an ``(n, 4)``
            array gives one face per photo. None detects the faces.

        Returns
        -------
        keypoints : list of ndarray of shape (n_faces_i, n_keypoints, 2)
            One array per photo, largest face first; ``(0, n_keypoints, 2)`` where no
            face is found.
        """
        return [faces.keypoints for faces in self.predict_faces(images, boxes=boxes)]

    def predict_faces(self, images, boxes=None):
        """Every face in each photo: its keypoints, box and detection score together.

        Parameters
        ----------
        images : sequence of ndarray or file paths
            Photos of any size (pass ``[photo]`` for one).
        boxes : sequence of array-like of shape (n_faces_i, 4), or array of shape (n, 4), default=None
            As in :meth:`predict`.

        Returns
        -------
        faces : list of Faces
            One per photo: ``keypoints`` ``(n_faces, n_keypoints, 2)``, ``boxes``
            ``(n_faces, 4)`` and ``scores`` ``(n_faces,)``, largest face first.

        Examples
        --------
        >>> from skimage import data
        >>> from skfkd import load_pretrained
        >>> (faces,) = load_pretrained().predict_faces([data.astronaut()])
        >>> faces.keypoints.shape, faces.boxes.shape, bool(faces.scores[0] > 0.9)
        ((1, 68, 2), (1, 4), True)
        """
        self._check_fitted()
        photos = as_photo_list(images)
        if boxes is None:
            detections = [self._detect_kept(photo) for photo in photos]
        else:
            detections = [(given, np.ones(len(given)), None) for given in _as_box_lists(boxes, len(photos))]
        counts = [len(found[0]) for found in detections]
        owners = np.repeat(np.arange(len(photos)), counts)
        if len(owners) == 0:
            empty = Faces(np.empty((0, self.n_keypoints_, 2)), np.empty((0, 4)), np.empty(0))
            return [empty for _ in photos]
        found_boxes = np.concatenate([found[0] for found in detections])
        scores = np.concatenate([found[1] for found in detections])
        eyes = None
        if all(found[2] is not None for found in detections):
            eyes = np.concatenate([found[2] for found in detections])
        face_photos = [photos[i] for i in owners]
        keypoints = self._predict_faces(
            face_photos, self._calibrated_frames(found_boxes, eyes), last=self.n_refinements == 0
        )
        for done in range(1, self.n_refinements + 1):
            keypoints = self._predict_faces(
                face_photos, self._landmark_frames(keypoints), last=done == self.n_refinements
            )
        return [
            Faces(keypoints[owners == i], found_boxes[owners == i], scores[owners == i])
            for i in range(len(photos))
        ]

    def predict_frames(self, images, frames):
        """Keypoints of one face per photo, framed as given, in photo pixels.

        The regressor predicts on each frame's crop (with ``shift_test``, also on the
        shifted frames, averaged), without detection or refinement: a face whose frame
        is known, such as :func:`landmark_frames` of its true landmarks when measuring the
        regressor apart from the detector.

        Parameters
        ----------
        images : sequence of ndarray or file paths
            Photos, one per face (repeat a photo for each face in it).
        frames : array-like of shape (n_faces, 4)
            ``[centre_x, centre_y, side, angle]`` per face, in photo pixels
            (see :func:`landmark_frames`).

        Returns
        -------
        keypoints : ndarray of shape (n_faces, n_keypoints, 2)

        Examples
        --------
        >>> from skimage import data
        >>> from skfkd import load_pretrained
        >>> from skfkd.faces import landmark_frames
        >>> landmarker = load_pretrained()
        >>> photo = data.astronaut()
        >>> (found,) = landmarker.predict([photo])
        >>> again = landmarker.predict_frames([photo], landmark_frames(found))
        >>> again.shape, bool(abs(again - found).max() < 3)
        ((1, 68, 2), True)
        """
        self._check_fitted()
        photos = as_photo_list(images)
        frames = np.asarray(frames, dtype=float)
        if frames.shape != (len(photos), 4):
            raise ValueError(
                f"frames need shape ({len(photos)}, 4), one [centre_x, centre_y, side, angle] per photo; "
                f"got {frames.shape}"
            )
        if not photos:
            return np.empty((0, self.n_keypoints_, 2))
        return self._predict_faces(photos, frames, last=True)

    def _predict_faces(self, photos, frames, *, last):
        """The regressor on each face's frame; on the ``last`` pass, averaged with the
        shifted frames' predictions when ``shift_test`` asks for it."""
        if last and self.shift_test:
            frames = np.concatenate([frames[None], shifted_frames(frames, self.shift_test)])
        else:
            frames = np.asarray(frames, dtype=float)[None]
        n_views, n_faces = frames.shape[:2]
        frames = frames.reshape(-1, 4)
        X = self._crops(list(photos) * n_views, frames)
        keypoints = keypoints_from_crop(to_keypoints(self.regressor_.predict(X)), frames, self.crop_size)
        return keypoints.reshape(n_views, n_faces, *keypoints.shape[1:]).mean(axis=0)


def _layout_for(n_keypoints):
    try:
        return resolve_layout(None, n_keypoints)
    except ValueError:
        return None  # any keypoint count works; only the alignment needs named eyes


def _detection_frames(boxes, eyes):
    """Frames on detector boxes: centred on them, side their longer side, turned by the
    detected eye line (upright without eyes)."""
    return frames_from_boxes(boxes, margin=0, angles=None if eyes is None else eye_angles(eyes, (0, 1)))


def _eyes_of(found, index):
    return None if found.eyes is None else found.eyes[index : index + 1]


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
