"""KeypointAugmenter: random face augmentation that moves the keypoints with the pixels."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from skfkd._images import as_image_stack
from skfkd._layout import KeypointLayout, resolve_layout
from skfkd._params import Interval, StrOptions, positive_int
from skfkd.augmentation._geometry import augment_tensors, sample_augmentation

__all__ = ["KeypointAugmenter"]

_PADDING_MODES = ("border", "zeros", "reflection")

# fit_resample augments this many images at a time, to bound the memory of the float32
# copies and sampling grids whatever the size of X.
_CHUNK = 512


class KeypointAugmenter(BaseEstimator):
    """Random augmentation of face images that keeps their keypoints on the same features.

    Each augmented sample is mirrored (with probability ``flip``), rotated, zoomed and
    shifted; its keypoints go through the same map, and a mirror also swaps the
    left/right labels through the layout's flip pairs, so ``left_eye_center`` still names
    the subject's left eye. Then contrast, brightness, Gaussian noise and an occluding
    patch change the pixels. Every random parameter is drawn independently per sample.
    Setting a parameter to 0 (``scale=(1, 1)``) switches its transform off.

    The regressor calls :meth:`augment_batch` on each training batch, on the training
    device; :meth:`fit_resample` augments numpy arrays for any other model.

    In a pipeline, use imbalanced-learn's ``imblearn.pipeline.Pipeline``: it calls
    ``fit_resample`` on the training data only (the augmenter changes ``y`` with ``X``,
    which a transformer cannot), and passes test data through untouched. scikit-learn's
    ``Pipeline`` refuses the augmenter ("All intermediate steps should be transformers"):
    it is a sampler, not a transformer.

    Parameters
    ----------
    rotation : float, default=15
        Maximum rotation in degrees, in [0, 180]; angles are uniform in
        ``[-rotation, rotation]``, about the image centre.
    scale : (float, float), default=(0.9, 1.1)
        Range of the zoom factor about the image centre (uniform); > 1 enlarges the face.
    shift : float, default=0.05
        Maximum translation as a fraction of the image width (for x) and height (for y),
        in [0, 1); uniform and independent in x and y.
    flip : float, default=0.5
        Probability of a horizontal mirror, in [0, 1]. A keypoint at column ``x`` moves
        to ``(w - 1) - x`` and takes the label of its flip partner in ``layout``.
    brightness : float, default=0.2
        Maximum brightness change, >= 0: each image gets ``b * std`` added, with ``b``
        uniform in ``[-brightness, brightness]`` and ``std`` the image's standard
        deviation over its pixels.
    contrast : float, default=0.2
        Maximum contrast change, in [0, 1]: deviations from the image's mean are
        multiplied by a factor uniform in ``[1 - contrast, 1 + contrast]``.
    noise : float, default=0.05
        Standard deviation of additive Gaussian pixel noise, >= 0, as a fraction of the
        image's standard deviation.
    occlusion : float, default=0.0
        Probability, in [0, 1], of a rectangle of constant value painted over the image
        (after the geometric transform). Its sides are 10-40% of the image's; its
        centre is anywhere on the image; its value is uniform between the image's
        minimum and maximum. Keypoints under it keep their labels.
    padding_mode : {"border", "zeros", "reflection"}, default="border"
        What fills the area a transform brings in from outside the image. ``"border"``
        repeats the edge pixels, which works for any pixel scale; ``"zeros"`` means black
        only for unscaled images; ``"reflection"`` can mirror facial features into view.
    layout : KeypointLayout or None, default=None
        The keypoint scheme, for the flip pairs. None picks the built-in layout with the
        targets' number of keypoints (15: KAGGLE_15, 68: IBUG_68).
    image_shape : pair of int or None, default=None
        ``(height, width)`` for 2-D ``X`` in :meth:`fit` and :meth:`fit_resample`; None
        infers square images. A 3-D ``X`` carries its own shape.
    n_copies : int, default=1
        Augmented copies of each sample that :meth:`fit_resample` adds.
    random_state : int, RandomState instance or None, default=None
        Seeds :meth:`fit_resample`. :meth:`augment_batch` takes a torch generator instead.

    Attributes
    ----------
    layout_ : KeypointLayout
        The layout resolved in :meth:`fit` or :meth:`fit_resample`.
    image_shape_ : tuple of int
        ``(height, width)`` of the images seen there.
    n_features_in_ : int
        Number of pixels per image seen there.

    See Also
    --------
    skfkd.KeypointLayout : Flip pairs of a keypoint scheme.

    Notes
    -----
    Geometry: coordinates are in pixels with ``x`` the column, ``y`` the row and pixel
    centres at integers. Per sample, the forward map is: mirror about the vertical centre
    line, rotate (counter-clockwise on screen for positive angles) and zoom about the
    centre ``((w - 1) / 2, (h - 1) / 2)``, then shift. Images are resampled bilinearly.
    Keypoints that leave the image keep their coordinates (they are not clipped or
    dropped); a keypoint with a NaN coordinate comes out with both coordinates NaN.

    The photometric statistics (mean, standard deviation, minimum, maximum) are those of
    each input image, so the same parameters mean the same thing for 0-255, [0, 1] and
    standardised pixels. Order: geometry, contrast and brightness, noise, occlusion.

    The defaults are mild face augmentations (a tilted head, a slightly different
    framing, mirrored faces, lighting changes); occlusion is off until measured to help.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import KAGGLE_15
    >>> from skfkd.augmentation import KeypointAugmenter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(4, 96 * 96), dtype=np.uint8)
    >>> y = rng.uniform(20, 76, size=(4, 2 * KAGGLE_15.n_keypoints))
    >>> X_aug, y_aug = KeypointAugmenter(n_copies=2, random_state=0).fit_resample(X, y)
    >>> X_aug.shape, X_aug.dtype, y_aug.shape
    ((12, 9216), dtype('uint8'), (12, 30))
    >>> bool((X_aug[:4] == X).all() and (y_aug[:4] == y).all())  # the originals come first
    True
    """

    def __init__(
        self,
        rotation=15.0,
        scale=(0.9, 1.1),
        shift=0.05,
        flip=0.5,
        brightness=0.2,
        contrast=0.2,
        noise=0.05,
        occlusion=0.0,
        padding_mode="border",
        layout=None,
        image_shape=None,
        n_copies=1,
        random_state=None,
    ):
        self.rotation = rotation
        self.scale = scale
        self.shift = shift
        self.flip = flip
        self.brightness = brightness
        self.contrast = contrast
        self.noise = noise
        self.occlusion = occlusion
        self.padding_mode = padding_mode
        self.layout = layout
        self.image_shape = image_shape
        self.n_copies = n_copies
        self.random_state = random_state

    # ------------------------------------------------------------------ validation

    _parameter_constraints = {
        "rotation": [Interval(Real, 0, 180, closed="both")],
        "scale": [tuple, list],
        "shift": [Interval(Real, 0, 1, closed="left")],
        "flip": [Interval(Real, 0, 1, closed="both")],
        "brightness": [Interval(Real, 0, None, closed="left")],
        "contrast": [Interval(Real, 0, 1, closed="both")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "occlusion": [Interval(Real, 0, 1, closed="both")],
        "padding_mode": [StrOptions(set(_PADDING_MODES))],
        "layout": [KeypointLayout, None],
        "image_shape": [tuple, list, None],
        "n_copies": [positive_int],
        "random_state": ["random_state"],
    }

    def _check_params(self):
        """Validate the hyper-parameters; return them as plain floats."""
        self._validate_params()
        try:
            low, high = (float(v) for v in self.scale)
        except (TypeError, ValueError):
            raise ValueError(
                f"scale must be a pair (low, high) of zoom factors; got {self.scale!r}"
            ) from None
        if not (0 < low <= high < math.inf):
            raise ValueError(f"scale must be a pair (low, high) with 0 < low <= high; got {self.scale!r}")
        return {
            "rotation": float(self.rotation),
            "scale": (low, high),
            "shift": float(self.shift),
            "flip": float(self.flip),
            "brightness": float(self.brightness),
            "contrast": float(self.contrast),
            "occlusion": float(self.occlusion),
        }

    def _resolve_layout(self, n_columns, params):
        if n_columns % 2:
            raise ValueError(f"keypoint targets need an even number of columns (x, y pairs); got {n_columns}")
        layout = resolve_layout(self.layout, n_columns // 2)
        if params["flip"] > 0 and not layout.flip_pairs:
            raise ValueError(
                f"flip={self.flip} mirrors faces, but layout {layout.name!r} has no flip pairs to swap "
                "left and right keypoints; set flip=0 or give a layout with flip_pairs"
            )
        return layout

    def _validate_data(self, X, y):
        """Check X and y; return them as (n, h, w) images and float targets, and set attributes."""
        params = self._check_params()
        X = np.asarray(X)
        if X.dtype.kind not in "uif":
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"X must hold numbers; got dtype {X.dtype}") from None
        images = as_image_stack(X, self.image_shape)
        if images.shape[1] < 1 or images.shape[2] < 1:
            raise ValueError(f"X holds empty images of shape {images.shape[1:]}")
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinity")
        y = np.asarray(y)
        if y.dtype.kind not in "f":
            y = y.astype(np.float64)
        if y.ndim != 2:
            raise ValueError(f"y must be 2-D (n_samples, 2 * n_keypoints); got shape {y.shape}")
        if len(y) != len(X):
            raise ValueError(
                f"X and y have different numbers of samples: {len(X)} images and {len(y)} targets"
            )
        self.layout_ = self._resolve_layout(y.shape[1], params)
        self.image_shape_ = tuple(int(v) for v in images.shape[1:])
        self.n_features_in_ = self.image_shape_[0] * self.image_shape_[1]
        return images, y, params

    # ------------------------------------------------------------------ numpy path

    def fit(self, X, y):
        """Validate the parameters and data, and resolve the layout.

        Augmentation is random rather than learned, so fitting only checks that the
        parameters suit ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width)
            Images.
        y : array-like of shape (n_samples, 2 * n_keypoints)
            Keypoints in pixels, NaN where unannotated.

        Returns
        -------
        self : KeypointAugmenter
            The validated augmenter.
        """
        self._validate_data(X, y)
        return self

    def fit_resample(self, X, y):
        """Return the samples followed by ``n_copies`` augmented copies of them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width)
            Images, uint8 or float (any pixel scale).
        y : array-like of shape (n_samples, 2 * n_keypoints)
            Keypoints in pixels, NaN where unannotated.

        Returns
        -------
        X_resampled : ndarray of shape (n_samples * (1 + n_copies), ...)
            The original images, then copy 1 of every image, then copy 2, and so on; in
            the shape layout and dtype of ``X``. Integer images are rounded and clipped to
            their dtype's range.
        y_resampled : ndarray of shape (n_samples * (1 + n_copies), 2 * n_keypoints)
            The matching keypoints (float).
        """
        images, y, params = self._validate_data(X, y)
        generator = _torch_generator(self.random_state)
        permutation = tuple(self.layout_.flip_permutation.tolist())
        out_images, out_targets = [images], [y]
        source = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))[:, None]
        targets = torch.from_numpy(np.ascontiguousarray(y))
        for _ in range(self.n_copies):
            for start in range(0, len(images), _CHUNK):
                stop = start + _CHUNK
                aug_images, aug_targets = self._augment(
                    source[start:stop], targets[start:stop], generator, params, permutation
                )
                out_images.append(_to_dtype(aug_images[:, 0].numpy(), images.dtype))
                out_targets.append(aug_targets.numpy())
        X_out = np.concatenate(out_images)
        return X_out.reshape(len(X_out), *np.shape(X)[1:]), np.concatenate(out_targets)

    # ------------------------------------------------------------------ torch path

    def augment_batch(self, images, targets, *, generator=None):
        """Augment a torch batch of images and keypoints (the regressor's training path).

        Parameters
        ----------
        images : torch.Tensor of shape (n, c, h, w)
            Floating images on any device (float32, float64, float16 or bfloat16; any
            memory format), in any pixel scale.
        targets : torch.Tensor of shape (n, 2 * n_keypoints)
            Floating keypoints ``[x0, y0, x1, y1, ...]`` in pixels of these images (``x``
            the column, pixel centres at integers), NaN where unannotated; same device.
        generator : torch.Generator or None, default=None
            A CPU generator for the random parameters (and the seed of the noise, which is
            drawn on the images' device). None uses torch's global generator.

        Returns
        -------
        images : torch.Tensor
            Augmented images, same shape, dtype, device and memory format.
        targets : torch.Tensor
            Transformed keypoints, same shape, dtype and device.

        Examples
        --------
        >>> import torch
        >>> from skfkd.augmentation import KeypointAugmenter
        >>> images = torch.rand(8, 1, 96, 96)
        >>> targets = torch.rand(8, 30) * 95
        >>> aug = KeypointAugmenter(rotation=10)
        >>> out, kp = aug.augment_batch(images, targets, generator=torch.Generator().manual_seed(0))
        >>> out.shape, kp.shape, out.dtype
        (torch.Size([8, 1, 96, 96]), torch.Size([8, 30]), torch.float32)
        """
        params = self._check_params()
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
            raise ValueError("images must be a floating torch tensor of shape (n, channels, height, width)")
        if not isinstance(targets, torch.Tensor) or targets.ndim != 2 or not targets.is_floating_point():
            raise ValueError("targets must be a floating torch tensor of shape (n, 2 * n_keypoints)")
        if len(targets) != len(images):
            raise ValueError(
                f"images and targets have different numbers of samples: {len(images)} and {len(targets)}"
            )
        if targets.device != images.device:
            raise ValueError(f"images are on {images.device} but targets on {targets.device}")
        if generator is not None and generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator; got one on {generator.device}")
        layout = self._resolve_layout(targets.shape[1], params)
        if len(images) == 0:
            return images.clone(), targets.clone()
        permutation = tuple(layout.flip_permutation.tolist())
        return self._augment(images, targets, generator, params, permutation)

    def _augment(self, images, targets, generator, params, permutation):
        """Draw the parameters of a batch on the CPU and apply them (validated input)."""
        n, _, height, width = images.shape
        draw = sample_augmentation(n, height, width, generator=generator, **params)
        geometric = (
            params["rotation"] > 0
            or params["scale"] != (1.0, 1.0)
            or params["shift"] > 0
            or params["flip"] > 0
        )
        photometric = params["brightness"] > 0 or params["contrast"] > 0 or self.noise > 0
        return augment_tensors(
            images,
            targets,
            draw,
            noise=float(self.noise),
            permutation=permutation,
            padding_mode=self.padding_mode,
            geometric=geometric,
            photometric=photometric,
        )


def _torch_generator(random_state):
    """A CPU torch generator seeded from an sklearn ``random_state``."""
    seed = check_random_state(random_state).randint(0, 2**31 - 1)
    return torch.Generator().manual_seed(int(seed))


def _to_dtype(images, dtype):
    """Float images back to the caller's dtype: integers rounded and clipped to their range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(images), info.min, info.max).astype(dtype)
    return images.astype(dtype, copy=False)
