"""Random augmentation of face images together with their keypoints.

:class:`KeypointAugmenter` mirrors (swapping left/right labels through the layout),
rotates, zooms and shifts faces, and changes their contrast, brightness, noise and
occlusion. One torch implementation (in ``_geometry``) serves both the regressor's
per-batch training path, on any device, and the numpy :meth:`~KeypointAugmenter.fit_resample`.
"""

from skfkd.augmentation._augmenter import KeypointAugmenter

__all__ = ["KeypointAugmenter"]
