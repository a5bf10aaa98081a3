"""What the commands read: data sources, model files (by their bytes), photos, and model
parameters given on the command line."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_NO_FACE, EXIT_INTERRUPTED = 1, 2, 3, 130
SOURCES = ("synthetic", "youtube", "kaggle", "pts", "xml")
# Names that say "a model" when the file is not there to read: a missing model file or a
# folder given as one is reported as such. An existing file is judged by its bytes.
MODEL_SUFFIXES = (".skops", ".onnx", ".joblib", ".pkl", ".pickle")


class BadInput(ValueError):
    """Input the user must fix; reported in one line with exit status 2."""


# --------------------------------------------------------------------------- data


@dataclass
class Dataset:
    """Faces from one source: crops always, photos when the source has them."""

    name: str
    X: np.ndarray  # crops (n, size**2)
    y: np.ndarray  # crop keypoints (n, 2k)
    groups: np.ndarray  # faces of one person or one photo share a group
    photos: np.ndarray | None = None  # object array of photos, one per face
    keypoints: np.ndarray | None = None  # photo keypoints (n, k, 2)

    def take(self, rows):
        photos = None if self.photos is None else self.photos[rows]
        keypoints = None if self.keypoints is None else self.keypoints[rows]
        return Dataset(self.name, self.X[rows], self.y[rows], self.groups[rows], photos, keypoints)


def resolve_source(args):
    """The source kind and path from ``--data`` (a kind or a path) and ``--path``."""
    data, path = args.data, args.path
    if data in SOURCES:
        if data == "synthetic":
            return data, None
        if path is None:
            from skfkd.datasets import get_data_home

            if data in ("pts", "xml"):
                raise BadInput(f"--data {data} needs --path (a folder of .pts files or an .xml file)")
            path = (
                get_data_home() / {"youtube": "youtube_faces_68", "kaggle": "kaggle_facial_keypoints"}[data]
            )
        return data, Path(path)
    path = Path(data)
    if path.is_dir():
        kind = "youtube" if any(path.glob("*_frames_keypoints.csv")) else "pts"
        return kind, path
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".xml":
            return "xml", path
        if suffix in (".csv", ".zip"):
            return "kaggle", path
        raise BadInput(f"--data {data}: expected a folder, an .xml, .csv or .zip file")
    raise BadInput(f"--data {data!r} is neither one of {', '.join(SOURCES)} nor an existing file or folder")


def load_dataset(args) -> Dataset:
    """The faces of ``--data``: 96x96 crops framed on the landmarks, and the photos."""
    from skfkd.datasets import (
        load_dlib_xml,
        load_kaggle_facial_keypoints,
        load_landmark_folder,
        load_youtube_faces,
        make_faces,
    )

    kind, path = resolve_source(args)
    if kind == "synthetic":
        X, y = make_faces(args.n_samples, random_state=args.random_state, return_X_y=True)
        return Dataset("synthetic", X, y, np.arange(len(X)))
    if kind == "kaggle":
        faces = load_kaggle_facial_keypoints(path)
        return Dataset(f"Kaggle ({path.name})", faces.data, faces.target, np.arange(len(faces.data)))
    if kind == "youtube":
        faces = load_youtube_faces(path, subset=getattr(args, "subset", "training"))
        groups = faces.identities  # frames of one person are near-duplicates: keep them together
    elif kind == "pts":
        faces = load_landmark_folder(path)
        groups = faces.filenames
    else:
        faces = load_dlib_xml(path)
        groups = faces.filenames  # faces of one photo stay together
    return Dataset(f"{kind} ({path.name})", faces.data, faces.target, groups, faces.images, faces.keypoints)


def split(dataset, test_size, random_state):
    """``(train, test)``: a share of the groups held out."""
    from sklearn.model_selection import GroupShuffleSplit

    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=random_state)
    train, test = next(splitter.split(dataset.X, dataset.y, dataset.groups))
    return dataset.take(train), dataset.take(test)


def read_photos(names):
    """The photos of the files ``names``, turned as their EXIF orientation says."""
    from skfkd._images import read_photo

    return [read_photo(name) for name in names]


# --------------------------------------------------------------------------- models


def load_model(path, trusted=(), trust_pickle=False):
    """A model from a file, by what its bytes are (never by its name): a skops file (its
    types and parameters checked first), an ONNX graph, or, only with ``trust_pickle``, a
    pickle; or the pretrained landmarker for the word ``pretrained``."""
    if str(path) == "pretrained":
        return load_pretrained()
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{path} is a folder; expected a model file written by `skfkd train --out`")
    if not path.is_file():
        raise BadInput(f"the model file {path} does not exist")
    kind = model_file_kind(path)
    if kind in ("skops", "onnx"):
        try:
            from skfkd.deploy import OnnxKeypointRegressor
            from skfkd.deploy import load_model as load_skops

            if kind == "skops":
                model = load_skops(path, trusted=trusted)
            else:
                model = OnnxKeypointRegressor(path)
                model.n_outputs_  # noqa: B018 (reads and checks the graph now, not at the first face)
        except (ImportError, ValueError) as error:
            raise BadInput(str(error)) from None
    elif not trust_pickle:
        raise BadInput(
            f"{path} is neither a skops nor an ONNX model file. If it is a pickle (joblib) file, loading it "
            "runs whatever code it holds: skfkd reads pickles only with --trust-pickle, for files you made or "
            f"whose source you trust (convert one for good: skfkd export {path} --trust-pickle --skops OUT.skops)"
        )
    else:
        import joblib

        try:
            model = joblib.load(path)
        except Exception as error:  # noqa: BLE001 (unpickling can fail in many ways; all mean a bad file)
            raise BadInput(
                f"{path} is not a model file skfkd can read ({type(error).__name__}: {error})"
            ) from None
    if not hasattr(model, "predict"):
        raise BadInput(f"{path} holds a {type(model).__name__}, not a fitted model")
    return model


def model_file_kind(path):
    """ "skops" (a zip archive), "onnx" (an ONNX protobuf, whose first field is the IR
    version), or "other" (perhaps a pickle), from the file's first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise BadInput(f"{path} is empty; expected a model file written by `skfkd train` or `skfkd export`")
    if head == b"PK\x03\x04":
        return "skops"
    if head[0] == 0x08:
        return "onnx"
    return "other"


def load_pretrained():
    from skfkd.faces import load_pretrained as load

    try:
        return load()
    except (FileNotFoundError, ValueError) as error:
        raise BadInput(str(error)) from None


def is_photo_landmarker(model):
    """Does the model find faces in photos (a FaceLandmarker), or predict on crops?"""
    return hasattr(model, "predict_faces")


def model_and_photos(inputs):
    """``(model path or None, photo paths)`` from predict's ``[MODEL] PHOTO...`` arguments:
    the first is the model when it is the word ``pretrained``, a file whose bytes are not
    an image, or a missing file or folder with a model's suffix."""
    first, *rest = inputs
    path = Path(first)
    if path.is_file():
        is_model = not _is_image_file(path)
    else:
        is_model = first == "pretrained" or path.suffix.lower() in MODEL_SUFFIXES
    if not is_model:
        return None, inputs
    if not rest:
        raise BadInput(f"{first} is a model; give the photos to predict on after it")
    return first, rest


def _is_image_file(path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):  # reads the header only
            return True
    except Image.DecompressionBombError:
        return True  # an image, too large to read: reading it says so
    except (UnidentifiedImageError, OSError):
        return False


# --------------------------------------------------------------------------- parameters


def model_parameters(tokens):
    """``{name: value}`` from ``--name value`` pairs the parser did not know: model
    parameters, such as ``--lr 0.001 --module__latent_dim 64 --crop-size 128``. Values
    are Python literals where they parse as one (numbers, tuples, None, True), else strings."""
    params, tokens = {}, list(tokens)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("--") or len(token) == 2:
            raise BadInput(f"unexpected argument {token!r}; model parameters are given as --name value")
        name, _, value = token[2:].partition("=")
        if not value:
            if not tokens or tokens[0].startswith("--"):
                raise BadInput(f"--{name} needs a value")
            value = tokens.pop(0)
        try:
            params[name.replace("-", "_")] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name.replace("-", "_")] = value
    return params


def route_parameters(params, regressor_class, landmarker_class):
    """``(regressor parameters, landmarker parameters)``: each name to the estimator that
    has it (skorch's prefixed names to the regressor); an unknown name is an error."""
    import inspect

    landmarker_names = set(inspect.signature(landmarker_class.__init__).parameters) - {"self", "regressor"}
    regressor_names = set(regressor_class().get_params(deep=False))
    prefixes = (
        "module__",
        "optimizer__",
        "criterion__",
        "callbacks__",
        "iterator_train__",
        "iterator_valid__",
    )
    for_regressor, for_landmarker, unknown = {}, {}, []
    for name, value in params.items():
        if name in landmarker_names:
            for_landmarker[name] = value
        elif name in regressor_names or name.startswith(prefixes):
            for_regressor[name] = value
        else:
            unknown.append(f"--{name}")
    if unknown:
        raise BadInput(
            f"{', '.join(unknown)}: not a parameter of {regressor_class.__name__} or {landmarker_class.__name__} "
            "(see their documentation, or skfkd train --help)"
        )
    return for_regressor, for_landmarker
