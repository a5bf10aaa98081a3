"""The one input check for images: ``X`` batches (rows of pixels, or stacks of 2-D images)
and photos (any size, gray or colour, from arrays or files)."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

__all__ = [
    "as_image_stack",
    "as_photo_list",
    "check_photo",
    "decode_photo",
    "infer_image_shape",
    "read_photo",
    "split_channels",
    "to_bgr",
    "to_gray",
]


def _as_pair(image_shape) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be a pair (height, width); got {image_shape!r}") from None
    return height, width


def _as_shape(image_shape, allow_colour) -> tuple[int, ...]:
    """``(height, width)``, or ``(height, width, 3)`` for RGB images where colour is allowed
    (``(height, width, 1)`` is gray)."""
    if not allow_colour or np.ndim(image_shape) != 1 or len(image_shape) != 3:
        return _as_pair(image_shape)
    *pair, channels = image_shape
    if channels not in (1, 3):
        raise ValueError(
            f"image_shape must be (height, width) or (height, width, 3) for RGB images; got {tuple(image_shape)!r}"
        )
    pair = _as_pair(pair)
    return pair if channels == 1 else (*pair, 3)


def infer_image_shape(n_features, image_shape=None, *, allow_colour=False) -> tuple[int, ...]:
    """The ``(height, width)`` of images stored as rows of ``n_features`` pixels, or
    ``(height, width, 3)`` for RGB rows where ``allow_colour`` (each row a ``(h, w, 3)``
    image flattened, channels last).

    Square gray images are inferred from the row length; other shapes, colour among
    them, must be given: a row of ``3 * s * s`` values could as well be a gray image of
    another shape (64x48 holds as many values as 32x32 in RGB).
    """
    if image_shape is not None:
        shape = _as_shape(image_shape, allow_colour)
        if min(shape) < 1 or math.prod(shape) != n_features:
            what = "values" if len(shape) == 3 else "pixels"
            raise ValueError(
                f"image_shape={tuple(image_shape)} holds {math.prod(shape)} {what} but X has {n_features} columns"
            )
        return shape
    side = math.isqrt(n_features)
    if side * side != n_features:
        colour = " (or (height, width, 3) for RGB rows)" if allow_colour else ""
        raise ValueError(
            f"X has {n_features} columns, which is not a square image; pass image_shape=(height, width){colour} "
            "or give X as a 3-D array (n_samples, height, width)"
        )
    return side, side


def split_channels(shape) -> tuple[tuple[int, int], int]:
    """``((height, width), channels)`` of an image shape: ``(h, w)`` has one channel."""
    return tuple(shape[:2]), shape[2] if len(shape) == 3 else 1


def as_image_stack(X, image_shape=None, *, allow_colour=False) -> np.ndarray:
    """View ``X`` as ``(n, h, w)``: 3-D input as is, 2-D rows reshaped by their image shape.

    Where ``allow_colour``, RGB images ``(n, h, w, 3)`` stay so (and rows reshape to them
    by an ``image_shape`` of ``(h, w, 3)``), and ``(n, h, w, 1)`` is gray ``(n, h, w)``.
    """
    X = np.asarray(X)
    if allow_colour and X.ndim == 4:
        if X.shape[-1] not in (1, 3):
            raise ValueError(
                f"X holds images of {X.shape[-1]} channels {X.shape[1:]}; expected gray (n_samples, height, "
                "width) or RGB (n_samples, height, width, 3) images"
            )
        X = X[..., 0] if X.shape[-1] == 1 else X
    if X.ndim == 3 or (allow_colour and X.ndim == 4):
        if image_shape is not None and _as_shape(image_shape, allow_colour) != X.shape[1:]:
            raise ValueError(f"X holds {X.shape[1:]} images but image_shape={tuple(image_shape)}")
        return X
    if X.ndim != 2:
        colour = " or (n_samples, height, width, 3)" if allow_colour else ""
        raise ValueError(
            f"X must be (n_samples, height * width) or (n_samples, height, width){colour}; got {X.shape}"
        )
    return X.reshape(len(X), *infer_image_shape(X.shape[1], image_shape, allow_colour=allow_colour))


# -- photos ------------------------------------------------------------------------------
#
# A checked photo is uint8: (h, w) grayscale or (h, w, 3) RGB. Every component that takes
# photos (FaceLandmarker, the detectors, crops, the command line, the loaders) passes them
# through check_photo, so a photo is read one way everywhere.

_FLOAT_RANGES = "[0, 1] or 0-255"


def check_photo(image, where="photo") -> np.ndarray:
    """One photo as uint8 ``(h, w)`` grayscale or ``(h, w, 3)`` RGB, or a ValueError naming
    ``where`` and what is wrong with it.

    Accepted: grayscale ``(h, w)`` or ``(h, w, 1)``, RGB ``(h, w, 3)``, RGBA ``(h, w, 4)``
    (the alpha channel is dropped); uint8; uint16 (0-65535, scaled to 0-255); other
    integers with values in 0-255 (taken as they are) or 0-65535 (as 16-bit); floats in
    [0, 1] or in 0-255 (told apart by their largest value: a float photo whose pixels all
    lie in [0, 1] is read as [0, 1]). Anything else is refused, never guessed.
    """
    image = np.asarray(image)
    if image.dtype == object or image.dtype == bool or not np.issubdtype(image.dtype, np.number):
        raise ValueError(
            f"{where} must hold numbers (uint8, uint16 or float pixels); got dtype {image.dtype}"
        )
    if np.issubdtype(image.dtype, np.complexfloating):
        raise ValueError(f"{where} holds complex numbers, not pixels")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (3, 4))):
        raise ValueError(
            f"{where} must be a grayscale (h, w), RGB (h, w, 3) or RGBA (h, w, 4) photo; got shape {image.shape}"
        )
    if min(image.shape[:2]) < 1:
        raise ValueError(f"{where} is empty: shape {image.shape}")
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]  # alpha carries no face
    if image.dtype == np.uint8:
        return image
    return _to_uint8(image, where)


def _to_uint8(image, where):
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError(f"{where} holds NaN or infinity")
        low, high = float(image.min()), float(image.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"{where} is a float photo with values from {low:.4g} to {high:.4g}; float pixels must lie in "
                f"{_FLOAT_RANGES}"
            )
        scale = 255.0 if high <= 1 else 1.0
        return np.clip(np.rint(image * scale), 0, 255).astype(np.uint8)
    low, high = int(image.min()), int(image.max())
    if low < 0 or high > 65535:
        raise ValueError(
            f"{where} is an integer photo with values from {low} to {high}; integer pixels must lie in 0-255 "
            "(8-bit) or 0-65535 (16-bit)"
        )
    if image.dtype == np.uint16 or high > 255:
        return np.rint(image / 257.0).astype(np.uint8)  # 65535 -> 255
    return image.astype(np.uint8)


def to_gray(photo) -> np.ndarray:
    """A checked photo as uint8 grayscale ``(h, w)`` (ITU-R BT.601 weights, as OpenCV)."""
    import cv2

    return photo if photo.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(photo), cv2.COLOR_RGB2GRAY)


def to_bgr(photo) -> np.ndarray:
    """A checked photo as the uint8 BGR ``(h, w, 3)`` array that OpenCV's models take."""
    import cv2

    code = cv2.COLOR_GRAY2BGR if photo.ndim == 2 else cv2.COLOR_RGB2BGR
    return cv2.cvtColor(np.ascontiguousarray(photo), code)


def decode_photo(payload, where) -> np.ndarray:
    """Image file bytes as an RGB uint8 array, turned as its EXIF orientation says (as
    photo viewers show it); a clear ValueError naming ``where`` otherwise."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(payload)) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except Image.DecompressionBombError as error:
        raise ValueError(f"cannot read the image {where}: {error}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        # PIL reports a truncated JPEG as an OSError from convert(), not from open().
        raise ValueError(f"cannot read the image {where}: {error}") from None


def read_photo(path) -> np.ndarray:
    """The photo in an image file (JPEG, PNG, ...), as :func:`decode_photo` reads it."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a photo file (JPEG or PNG)")
    if not path.is_file():
        raise FileNotFoundError(f"the image {path} is missing")
    return decode_photo(path.read_bytes(), str(path))


def as_photo_list(images, what="images") -> list:
    """Checked photos from a list (or tuple, or object array) of photos or file paths, a
    stack of photos, or one file path; refuses what could be read two ways.

    - ``(n, h, w, c)`` arrays are stacks of ``n`` photos;
    - ``(h, w, 3)`` and ``(h, w, 4)`` arrays are one photo (no stack is 3 pixels wide);
    - ``(n, h, w)`` arrays are stacks of grayscale photos, unless ``n`` is 3 or 4 (a
      channels-first photo or a stack?) or the array is 2-D (a photo or rows of pixels?):
      those are refused, with a message that says to wrap a photo in a list.
    """
    if isinstance(images, (str, os.PathLike)):
        return [read_photo(images)]
    if isinstance(images, np.ndarray) and images.dtype != object:
        shape = images.shape
        if images.ndim == 3 and shape[-1] in (3, 4):
            return [check_photo(images, "the photo")]
        if images.ndim == 2 or (images.ndim == 3 and shape[0] in (3, 4)):
            raise ValueError(
                f"{what} is an array of shape {shape}, which could be one photo or several: pass a list, "
                "[photo] for one photo"
            )
        if images.ndim not in (3, 4):
            raise ValueError(
                f"{what} must be a list of photos; got an array of shape {shape} (pass [photo] for one)"
            )
    elif not isinstance(images, (list, tuple, np.ndarray)):
        raise TypeError(f"{what} must be a list of photos or file paths; got {type(images).__name__}")
    return [
        read_photo(image) if isinstance(image, (str, os.PathLike)) else check_photo(image, f"photo {i}")
        for i, image in enumerate(images)
    ]
