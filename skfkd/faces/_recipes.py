"""Named configurations of FaceLandmarker, measured for a kind of photo."""

from __future__ import annotations

__all__ = ["wild_landmarker"]

# Wider and one convolution deeper at stages 3-4 than FacialKeypointRegressor's default
# network (24, 48, 96, 128, 160), with the heatmap head instead of the dense one. On the
# tuning split of the shared photos (30 epochs, benchmarks/results/wild_levers.md), the
# 300-W sources' pooled NME went 4.73% (default network) -> 4.58% (wider) -> 4.36% (and the
# heatmap head), the held-out YouTube identities' 4.86% -> 4.78% -> 4.56%.
WILD_NETWORK = {
    "module__widths": (32, 64, 128, 192, 256),
    "module__depths": (1, 1, 2, 2, 1),
    "module__head": "heatmap",
}


def wild_landmarker(*, random_state=None, verbose=0):
    """The landmarker configured as skfkd's pretrained one: the recipe for photos in the wild.

    A :class:`FaceLandmarker` (YuNet, eye-aligned 96x96 crops) around a
    :class:`~skfkd.FacialKeypointRegressor` with a wider network than the default one
    (stage widths 32-64-128-192-256 instead of 24-48-96-128-160, two convolutions at
    stages 3 and 4) whose keypoints come from heatmaps (``module__head="heatmap"``, see
    :class:`~skfkd.neural.HeatmapHead`) instead of the dense head. The default regressor
    stays the right size for 96x96 crops of the Kaggle kind; this one measured better on
    in-the-wild photos (NME pooled over held-out LFPW, HELEN and AFW faces of the tuning
    split, 30 epochs each: 4.73% for the default network, 4.58% wider, 4.36% wider with
    the heatmap head; failures 5.1%, 3.5%, 2.9%), at about twice the default's training
    time.

    The recipe's data matter as much: ``make pretrained`` trains it on the four shared
    photo sources with the mirror images of the faces whose markup is mirror-symmetric
    (the 300-W sources; :func:`skfkd.datasets.mirror_faces`), which lowered the same NME
    from 4.97% to 4.73%; the YouTube Faces markup is not mirror-symmetric, so its faces
    are not mirrored.

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
    >>> params["module__widths"], params["module__head"]
    ((32, 64, 128, 192, 256), 'heatmap')
    """
    from skfkd.faces._landmarker import FaceLandmarker
    from skfkd.neural import FacialKeypointRegressor

    regressor = FacialKeypointRegressor(random_state=random_state, verbose=verbose, **WILD_NETWORK)
    return FaceLandmarker(regressor, random_state=random_state, verbose=verbose)
