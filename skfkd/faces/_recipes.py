"""Named configurations of FaceLandmarker, measured for a kind of photo."""

from __future__ import annotations

__all__ = ["wild_landmarker"]

# Wider and one convolution deeper at stages 3-4 than FacialKeypointRegressor's default
# network (24, 48, 96, 128, 160), with the heatmap head instead of the dense one. On the
# tuning split of the shared photos (30 epochs, benchmarks/results/wild_levers.md), the
# 300-W sources' pooled NME went 4.73% (default network) -> 4.58% (wider) -> 4.36% (and the
# heatmap head), the held-out YouTube identities' 4.86% -> 4.78% -> 4.56%.
# Trained on every face (no validation split, which measured no worse) for 40 epochs at
# 128x128: on the same split, with the 300-W faces twice per epoch, 3.77% and YouTube
# 4.36%, against 4.03% and 4.33% for this network at 96x96 and 120 epochs in about the
# same training time.
# 60 epochs measured no better on that split (3.74%, YouTube 4.34%): 40 is where it levels off.
# DSNT's heatmap regulariser (FacialKeypointRegressor's heatmap_weight=1.0, which keeps each
# keypoint's map one peak on its point) measured better on that split at 20 epochs (3.79%
# against 4.02%, YouTube 4.54% against 4.63%), every source gaining.
# Twice that weight measured the same (3.79%, YouTube 4.55%).
WILD_NETWORK = {
    "module__widths": (32, 64, 128, 192, 256),
    "module__depths": (1, 1, 2, 2, 1),
    "module__head": "heatmap",
    "heatmap_weight": 1.0,
    "max_epochs": 40,
    "train_split": None,
}
WILD_CROP_SIZE = 128
# The mirror-symmetric 300-W faces (and their mirror images) enter every epoch this many
# times, the YouTube frames once: benchmarks/train_pretrained.py builds the training set so.
WILD_REPEATS = 2
# The last pass averages the frame's prediction with those on the frame moved by 4% of its
# side right, left, down and up (FaceLandmarker's shift_test). Chosen on the tuning split's
# validation faces with the shipped model, which had trained on them
# (benchmarks/results/shift_test.md): 300-W pooled 2.90% without, 2.82/2.77/2.78/2.74/2.78%
# at 0.01/0.02/0.03/0.04/0.06; YouTube 3.73% without, 3.58% at 0.04. Seen faces score lower
# than unseen ones; the held-out figures are in wild_landmarker's docstring.
WILD_SHIFT_TEST = 0.04
# Every prediction is also made on the crop's mirror image (FacialKeypointRegressor's flip
# test), whose average gives the shape while the plain prediction keeps its position
# (flip_test="shape"): the YouTube markup is not mirror-symmetric, and a plain average moves
# its points by its left/right offset. Measured with a lever's landmarker on the tuning split's
# validation faces, which it never saw (benchmarks/results/shift_test_*.md): with the shift
# test, 300-W pooled 3.60% -> 3.53% and YouTube 4.44% -> 4.38%; the plain average, 3.48% and
# 4.96%.
WILD_FLIP_TEST = "shape"
# RGB crops (FaceLandmarker's colour) instead of grayscale: on the tuning split, 20 epochs of
# the recipe (benchmarks/results/wild_levers.md), 300-W pooled 3.79% -> 3.66% (failures 1.6% ->
# 1.0%) and YouTube 4.54% -> 4.32%, every source gaining, for 1.05-1.08 times the time per batch;
# the shipped landmarker's held-out photos, 3.42% -> 3.40% and YouTube 4.33% -> 4.13%.
WILD_COLOUR = True


def wild_landmarker(*, random_state=None, verbose=0):
    """The landmarker configured as skfkd's pretrained one: the recipe for photos in the wild.

    A :class:`FaceLandmarker` (YuNet, eye-aligned 128x128 crops) around a
    :class:`~skfkd.FacialKeypointRegressor` with a wider network than the default one
    (stage widths 32-64-128-192-256 instead of 24-48-96-128-160, two convolutions at
    stages 3 and 4) whose keypoints come from heatmaps (``module__head="heatmap"``, see
    :class:`~skfkd.neural.HeatmapHead`) instead of the dense head. The default regressor
    stays the right size for 96x96 crops of the Kaggle kind; this one measured better on
    in-the-wild photos (NME pooled over held-out LFPW, HELEN and AFW faces of the tuning
    split, 30 epochs each: 4.73% for the default network, 4.58% wider, 4.36% wider with
    the heatmap head; failures 5.1%, 3.5%, 2.9%), at about twice the default's training
    time per batch. It trains 40 epochs on 128x128 crops with no validation split
    (``max_epochs=40, train_split=None``, ``crop_size=128``): on the same split and with
    the data below, 3.77% (failures 1.6%) against 4.03% (1.9%) for 120 epochs at 96x96,
    in about the same time. Its loss adds DSNT's heatmap regulariser
    (``heatmap_weight=1.0``), which keeps each keypoint's map one peak on its point: at 20
    epochs on the same split, 3.79% (failures 1.6%) against 4.02% (1.9%) without it.

    It predicts with the shift test (``shift_test=0.04``): its last pass averages the
    prediction on the face's frame with those on the frame moved by 4% of its side right,
    left, down and up. With the shipped landmarker on the held-out photos, that lowered
    the NME pooled over LFPW, HELEN and AFW from 3.65% to 3.50% on crops framed on the true
    landmarks (3.69% to 3.53% through the detector), and on the YouTube identities from
    4.53% to 4.38% (4.63% to 4.50%), every source gaining, for five crops instead of one
    on that pass; the amount was chosen on the tuning split. Each of its predictions is
    also made on the crop's mirror image (the regressor's ``flip_test="shape"``): the
    average of the two gives the points' shape, the plain prediction their position, since
    the YouTube markup is not mirror-symmetric. On the tuning split, with a landmarker that
    had not trained on those faces, that lowered the 300-W faces' NME from 3.60% to 3.53%
    and the YouTube frames' from 4.44% to 4.38%, for twice the crops; with the shipped
    landmarker on the held-out photos, from 3.50% to 3.42% pooled (3.53% to 3.45% through
    the detector) and from 4.38% to 4.33% on YouTube (4.50% to 4.45%).

    It reads RGB crops (``colour=True``) rather than grayscale ones. On the tuning split,
    at 20 epochs, that lowered the 300-W faces' NME from 3.79% to 3.66% (failures 1.6% to
    1.0%) and the YouTube frames' from 4.54% to 4.32%, every source gaining, for 1.05 to
    1.08 times the time per training batch. The shipped landmarker, retrained on colour,
    went on the held-out photos from 4.33% to 4.13% on YouTube (4.45% to 4.24% through the
    detector), while the 300-W faces moved within the noise of one seed (3.42% to 3.40%
    pooled, 3.45% to 3.42% through the detector).

    The recipe's data matter as much: ``make pretrained`` trains it on the four shared
    photo sources with the mirror images of the faces whose markup is mirror-symmetric
    (the 300-W sources; :func:`skfkd.datasets.mirror_faces`), which lowered the same NME
    from 4.97% to 4.73%; the YouTube Faces markup is not mirror-symmetric, so its faces
    are not mirrored. The 300-W faces and their mirror images enter every epoch twice,
    the YouTube frames once: on the tuning split that gained the
    300-W sources 0.14 points at an equal number of training steps and cost the YouTube
    frames 0.23, a trade the longer training more than pays back on both.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the landmarker and its regressor.
    verbose : int, default=0
        Progress of the training.

    Returns
    -------
    landmarker : FaceLandmarker
        Not fitted.

    Examples
    --------
    >>> from skfkd.faces import wild_landmarker
    >>> landmarker = wild_landmarker(random_state=0)
    >>> params = landmarker.regressor.get_params()
    >>> params["module__widths"], params["module__head"], params["heatmap_weight"]
    ((32, 64, 128, 192, 256), 'heatmap', 1.0)
    >>> params["max_epochs"], params["train_split"]
    (40, None)
    >>> landmarker.crop_size, landmarker.colour, landmarker.shift_test, params["flip_test"]
    (128, True, 0.04, 'shape')
    """
    from skfkd.faces._landmarker import FaceLandmarker
    from skfkd.neural import FacialKeypointRegressor

    regressor = FacialKeypointRegressor(
        random_state=random_state, verbose=verbose, flip_test=WILD_FLIP_TEST, **WILD_NETWORK
    )
    return FaceLandmarker(
        regressor,
        colour=WILD_COLOUR,
        crop_size=WILD_CROP_SIZE,
        shift_test=WILD_SHIFT_TEST,
        random_state=random_state,
        verbose=verbose,
    )
