"""Model files that load without running code from the file: skops, with torch weights as arrays."""

from __future__ import annotations

import copy
import inspect
import json
import math
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from skfkd._params import check_params, positive_int
from skfkd.deploy._extra import require

__all__ = ["load_model", "save_model"]

# What save_model writes around the model: {"skfkd_model_file": FILE_FORMAT, "skfkd_version":
# ..., "model": ...}. FILE_FORMAT changes when files written before cannot be read the same
# way (a new attribute layout of _SavedNetwork, say); the skfkd version says who wrote it.
FILE_FORMAT = 1
# What load_model lets a file take in memory, decompressed, unless told otherwise.
MAX_MODEL_BYTES = 2**30

# Types skfkd's own models hold, beyond those skops trusts itself (scikit-learn's estimators,
# numpy, builtins). Loading one of them runs no code from the file: skops creates the object
# without calling its __init__ and sets its attributes, or imports the class named. The
# regressor itself is not here: skorch's __setstate__ unpickles bytes, so its state goes
# through _SavedNetwork, and it is built from its parameters and weights instead.
TRUSTED_TYPES = (
    "skfkd._layout.KeypointLayout",
    "skfkd.augmentation._augmenter.KeypointAugmenter",
    "skfkd.baselines._hog.HOGFeatures",
    "skfkd.baselines._masked.MaskedMultiOutputRegressor",
    "skfkd.baselines._mean.MeanKeypointRegressor",
    "skfkd.deploy._persist._SavedNetwork",
    "skfkd.deploy._runtime.OnnxKeypointRegressor",
    "skfkd.faces._landmarker.FaceLandmarker",
    "skfkd.preprocessing._clahe.HistogramEqualizer",
    "skfkd.preprocessing._scaler.ImageScaler",
    # make_pca_ridge's per-image normalisation (a FunctionTransformer's func): skfkd's code.
    "skfkd.baselines._pipelines._center_and_normalize_images",
    # Paths (an OnnxKeypointRegressor's file): built from their parts, nothing else runs.
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    # Classes (not objects) that a default FacialKeypointRegressor names as parameters.
    "skfkd.neural._loss.KeypointAutoencoderLoss",
    "skfkd.neural._modules.KeypointAutoencoder",
    "skorch.dataset.Dataset",
    "skorch.dataset.ValidSplit",
    "torch.optim.adamw.AdamW",
    "torch.utils.data.dataloader.DataLoader",
)


def save_model(model, path):
    """Save a model to a skops file, which :func:`load_model` reads without running its code.

    Any skfkd model (or scikit-learn estimator, pipeline or search holding one) can be
    saved. skops (:mod:`skops.io`) stores objects as their types' names and their
    attributes, not as pickled code. The torch network inside a
    :class:`~skfkd.FacialKeypointRegressor`, which skops cannot store, is saved as the
    regressor's parameters, its fitted attributes, its learning curves and its weights
    (the module's ``state_dict``) as numpy arrays; loading builds the regressor from its
    parameters and puts the weights back. The optimizer's state is not kept: training a
    loaded model further (``partial_fit``, ``warm_start``) starts a fresh optimizer.

    Parameters
    ----------
    model : estimator
        The model to save, fitted or not.
    path : str or path-like
        The file to write, conventionally ``*.skops`` (overwritten if it exists).

    See Also
    --------
    load_model : Read the file back.
    export_onnx : A graph for ONNX Runtime, without PyTorch.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from skfkd import FacialKeypointRegressor
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.deploy import load_model, save_model
    >>> X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    >>> model = FacialKeypointRegressor(max_epochs=1, random_state=0).fit(X, y)
    >>> path = Path(tempfile.mkdtemp()) / "model.skops"
    >>> save_model(model, path)
    >>> np.array_equal(load_model(path).predict(X), model.predict(X))
    True
    """
    sio = require("skops.io")
    from skfkd import __version__
    from skfkd.neural import FacialKeypointRegressor

    safe = _map_estimators(model, FacialKeypointRegressor, _SavedNetwork.from_regressor)
    # Deflated: the schema (learning curves, parameters) is JSON text, which shrinks ~10x.
    sio.dump(
        {"skfkd_model_file": FILE_FORMAT, "skfkd_version": __version__, "model": safe},
        path,
        compression=zipfile.ZIP_DEFLATED,
    )


def load_model(path, *, trusted=(), max_bytes=MAX_MODEL_BYTES):
    """Load a model saved by :func:`save_model`; nothing in the file runs code.

    Before anything in the file is created, the file is checked: its arrays and schema
    must fit in ``max_bytes`` once decompressed (read from the archive's directory and
    the arrays' headers, before any array is decompressed), and every type it names
    must be one that skops trusts (scikit-learn's estimators, numpy, builtins), one of
    skfkd's own model types, one of the few classes that a default
    :class:`~skfkd.FacialKeypointRegressor` names as parameters (torch's ``AdamW`` and
    ``DataLoader``, skorch's ``Dataset`` and ``ValidSplit``), a path, or one listed in
    ``trusted``. Then every loaded estimator's parameters are checked against its
    parameter constraints, and a regressor is rebuilt only from an allow-list of
    parameters (:func:`skfkd.neural.regressor_from_state`): parameters that would run
    code (compilation, callbacks, data loaders, other classes, devices other than
    "auto", "cpu" and "cuda") are refused, naming the parameter.

    Parameters
    ----------
    path : str or path-like
        A ``.skops`` file.
    trusted : sequence of str, default=()
        More types to trust, by their full names as the error lists them
        (``"package.module.Class"``). Trust only types whose code you have read: loading
        one may import its module, and a custom regressor class or torch ``module`` is
        instantiated.
    max_bytes : int, default=1073741824
        Most bytes the file's arrays and schema may take once decompressed (1 GiB by
        default; skfkd's pretrained landmarker takes 13 MB).

    Returns
    -------
    model : estimator

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.
    ValueError
        When the file is not a skops file (empty, truncated, damaged or of another
        kind), is larger than ``max_bytes`` decompressed, holds types that are not
        trusted, or holds parameters or attributes that are not accepted. Nothing from
        the file has run.

    See Also
    --------
    save_model : Write the file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.linear_model import Ridge
    >>> from skfkd.deploy import load_model, save_model
    >>> path = Path(tempfile.mkdtemp()) / "ridge.skops"
    >>> save_model(Ridge(alpha=2.0), path)
    >>> load_model(path)
    Ridge(alpha=2.0)
    """
    sio = require("skops.io")
    path = Path(path)
    if isinstance(trusted, str):
        raise TypeError(f"trusted must be a sequence of type names; got the string {trusted!r}")
    trusted = list(trusted)
    check_params({"max_bytes": [positive_int]}, {"max_bytes": max_bytes}, "load_model")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a .skops file written by skfkd.deploy.save_model")
    if not path.is_file():
        raise FileNotFoundError(f"the model file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            _check_archive(archive, max_bytes)
        found = sio.get_untrusted_types(file=path)
    except _Refused as error:
        raise ValueError(f"{path}: {error}. Nothing was loaded") from None
    except (Exception, RecursionError) as error:  # noqa: BLE001 (any failure to parse means a bad file)
        size = os.path.getsize(path)
        raise ValueError(
            f"{path} is not a skops model file ({'empty' if size == 0 else f'{size} bytes, truncated or damaged?'}: "
            f"{type(error).__name__}: {error})"
        ) from None
    untrusted = sorted(set(found) - set(TRUSTED_TYPES) - set(trusted))
    if untrusted:
        raise ValueError(
            f"{path} holds types that are not trusted: {', '.join(untrusted)}. Nothing was loaded. If you "
            "trust them (you have read their code), pass trusted=[...] with these names"
        )
    try:
        model = _unwrap(sio.load(path, trusted=[*TRUSTED_TYPES, *trusted]), path)
        model = _map_estimators(model, _SavedNetwork, lambda saved: saved.rebuild(trusted))
        _check_estimators(model)
    except (Exception, RecursionError) as error:  # noqa: BLE001 (a crafted file may fail anywhere: say so)
        message = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        raise ValueError(
            f"{path} does not hold a model skfkd can load: {message}. Nothing was loaded, and nothing from the "
            "file has run"
        ) from error
    return model


class _Refused(ValueError):
    """The archive is refused before anything in it is decompressed beyond its schema."""


def _check_archive(archive, max_bytes):
    """Refuse an archive whose content would take more than ``max_bytes`` in memory,
    from the sizes that its directory and its arrays' headers declare.

    zipfile stops decompressing an entry at its declared size (a larger stream fails
    its checksum), so the declared sizes bound the memory. Each reference to an entry
    counts: skops reads an entry once per node that names it.
    """
    entries = {info.filename: info for info in archive.infolist()}
    schema_entry = entries.get("schema.json")
    if schema_entry is None:
        raise _Refused("not a skops file: it has no schema.json")
    if schema_entry.file_size > max_bytes:
        raise _Refused(
            f"its schema takes {schema_entry.file_size:,} bytes, more than max_bytes={max_bytes:,}"
        )
    schema = json.loads(archive.read(schema_entry))
    total, checked = schema_entry.file_size, set()
    for node in _file_nodes(schema):
        name = node["file"]
        entry = entries.get(name) if isinstance(name, str) else None
        if entry is None:
            raise _Refused(f"its schema names the entry {str(name)[:80]!r}, which the archive lacks")
        total += entry.file_size
        if total > max_bytes:
            raise _Refused(
                f"its arrays would take more than max_bytes={max_bytes:,} bytes once decompressed (no array "
                "was decompressed); pass a larger max_bytes to load_model if you expect a model that large"
            )
        loader = node.get("__loader__")
        if loader == "NdArrayNode" and name not in checked:
            _check_array_header(archive, entry)
            checked.add(name)
        elif loader not in ("NdArrayNode", "BytesNode", "BytearrayNode"):
            raise _Refused(f"it holds a {str(loader)[:40]} entry, which skfkd's model files never hold")


def _file_nodes(schema):
    """The schema's nodes that name an entry of the archive (``"file"``), depth first."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "file" in node:
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _check_array_header(archive, entry):
    """The array's header (read without decompressing the array) must declare exactly
    the bytes that the archive's directory declares, and no Python objects."""
    with archive.open(entry) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        except (ValueError, OSError, EOFError) as error:
            raise _Refused(f"its entry {entry.filename} is not a numpy array ({error})") from None
        header = stream.tell()
    if dtype.hasobject:
        raise _Refused(f"its entry {entry.filename} holds Python objects")
    declared = header + math.prod(shape) * dtype.itemsize
    if declared != entry.file_size:
        raise _Refused(
            f"its entry {entry.filename} declares a {dtype} array of shape {shape[:4]} ({declared:,} bytes) in an "
            f"entry of {entry.file_size:,} bytes"
        )


def _check_estimators(model):
    """Every estimator in the loaded model, checked as if its parameters had just been set:
    constraints first, then what the class checks itself where it is used."""
    from skfkd.deploy._runtime import OnnxKeypointRegressor

    for estimator in _estimators(model):
        _default_new_parameters(estimator)
        constraints = getattr(type(estimator), "_parameter_constraints", None)
        if constraints:
            check_params(constraints, estimator.get_params(deep=False), type(estimator).__name__)
        if isinstance(estimator, OnnxKeypointRegressor):
            estimator._check_carried_graph()


def _default_new_parameters(estimator):
    """Give an skfkd estimator from a file written before one of its parameters existed that
    parameter's default: a new parameter's default keeps the behaviour of before (as
    ``FaceLandmarker(colour=False)`` does)."""
    if not type(estimator).__module__.startswith("skfkd."):
        return
    for name, parameter in inspect.signature(type(estimator).__init__).parameters.items():
        if parameter.default is not inspect.Parameter.empty and name not in vars(estimator):
            setattr(estimator, name, copy.deepcopy(parameter.default))


def _estimators(obj, seen=None):
    """Estimators inside ``obj`` (itself included), through attributes, lists, tuples and dicts."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, BaseEstimator):
        yield obj
        children = vars(obj).values()
    elif type(obj) in (list, tuple):
        children = obj
    elif type(obj) is dict:
        children = obj.values()
    else:
        return
    for child in children:
        yield from _estimators(child, seen)


def _unwrap(content, path):
    """The model inside what save_model wrote, checked for the skfkd that wrote it; any
    other skops file's content as it is."""
    from skfkd import __version__

    if not (isinstance(content, dict) and "skfkd_model_file" in content):
        return content
    written_by = content.get("skfkd_version", "unknown")
    if content["skfkd_model_file"] != FILE_FORMAT:
        raise ValueError(
            f"{path} was written by skfkd {written_by} (model file format {content['skfkd_model_file']}); "
            f"this is skfkd {__version__}, which reads format {FILE_FORMAT}. Load it with skfkd {written_by}, "
            "or train the model again"
        )
    if written_by != __version__:
        warnings.warn(
            f"{path} was written by skfkd {written_by}; this is skfkd {__version__}. The file format is the "
            "same, but the model may predict differently from how it did there",
            UserWarning,
            stacklevel=3,
        )
    return content["model"]


def _map_estimators(obj, kind, convert, memo=None):
    """``obj`` with each ``kind`` object converted, in estimators' attributes, lists, tuples
    and dicts; what changes is copied, so ``obj`` itself stays untouched."""
    memo = {} if memo is None else memo
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, kind):
        memo[id(obj)] = converted = convert(obj)
        return converted
    if type(obj) in (list, tuple):
        items = [_map_estimators(item, kind, convert, memo) for item in obj]
        changed = any(new is not old for new, old in zip(items, obj))
        return type(obj)(items) if changed else obj
    if type(obj) is dict:
        items = {key: _map_estimators(value, kind, convert, memo) for key, value in obj.items()}
        return items if any(items[key] is not obj[key] for key in obj) else obj
    if isinstance(obj, BaseEstimator):
        state = vars(obj)
        changed = {}
        for name, value in state.items():
            new = _map_estimators(value, kind, convert, memo)
            if new is not value:
                changed[name] = new
        if changed:
            obj = copy.copy(obj)
            obj.__dict__.update(changed)
        return obj
    return obj


class _SavedNetwork:
    """A FacialKeypointRegressor as skops can store it safely: the attributes are the keys
    of :func:`skfkd.neural.regressor_to_state` (``estimator_class``, ``params``,
    ``attributes``, ``history``, ``weights``)."""

    @classmethod
    def from_regressor(cls, regressor):
        from skfkd.neural import regressor_to_state

        saved = cls()
        saved.__dict__.update(regressor_to_state(regressor))
        return saved

    def rebuild(self, trusted):
        from skfkd.neural import regressor_from_state

        return regressor_from_state(dict(vars(self)), trusted=trusted)
