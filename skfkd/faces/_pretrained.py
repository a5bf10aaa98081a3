"""The 68-point landmarker that ships with skfkd, trained by benchmarks/train_pretrained.py."""

from __future__ import annotations

from importlib.resources import files

__all__ = ["load_pretrained", "pretrained_model_card"]

PRETRAINED_FILE = "landmarker_68.skops"
MODEL_CARD_FILE = "landmarker_68.md"


def _shipped(name):
    path = files("skfkd") / "_data" / name
    if not path.is_file():
        raise FileNotFoundError(
            f"skfkd's pretrained model file {name} is missing from {path.parent}: the installation is "
            "incomplete. Reinstall skfkd, or train the model again with `make pretrained`"
        )
    return path


def load_pretrained():
    """The landmarker that ships with skfkd: 68 iBUG points on any photo, without training.

    A :class:`~skfkd.faces.FaceLandmarker` with a
    :class:`~skfkd.FacialKeypointRegressor` inside (the recipe
    :func:`~skfkd.faces.wild_landmarker`), trained on the four photo sources of
    ``SKFKD_DATA`` (YouTube Faces frames, LFPW, HELEN and AFW; 80% of each: the rest is
    held out to measure it) by ``benchmarks/train_pretrained.py``, with a fixed seed. It
    finds faces with the YuNet detector, or takes your face boxes, and returns keypoints
    in photo pixels; its regressor also predicts on 128x128 RGB crops (its ``crop_size``
    and ``colour``) framed like the training crops (:func:`~skfkd.faces.crop_faces` with
    ``colour=True``). The file is a
    skops file read with :func:`~skfkd.deploy.load_model`: loading it runs no code from
    it.

    Its model card (:func:`pretrained_model_card`) gives the training data and their
    licences (research and non-commercial use only), the command, the held-out figures
    and the framing it expects.

    Returns
    -------
    landmarker : FaceLandmarker
        Fitted. Fine-tune it on your photos with
        :meth:`FaceLandmarker.partial_fit <skfkd.faces.FaceLandmarker.partial_fit>`.

    Raises
    ------
    FileNotFoundError
        When the installation lacks the model file.
    ValueError
        When the file was written in a model file format this skfkd cannot read.

    Examples
    --------
    >>> from skimage import data
    >>> from skfkd import load_pretrained
    >>> landmarker = load_pretrained()
    >>> faces = landmarker.set_params(max_faces=1).predict([data.astronaut()])[0]
    >>> faces.shape  # one face, 68 (x, y) points in photo pixels
    (1, 68, 2)
    """
    from skfkd.deploy import load_model

    return load_model(_shipped(PRETRAINED_FILE))


def pretrained_model_card():
    """The model card of :func:`load_pretrained`'s model, as Markdown text.

    Returns
    -------
    card : str

    Examples
    --------
    >>> from skfkd.faces import pretrained_model_card
    >>> print(pretrained_model_card().splitlines()[0])
    # skfkd pretrained 68-point landmarker
    """
    return _shipped(MODEL_CARD_FILE).read_text(encoding="utf-8")
