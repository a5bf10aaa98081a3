"""Model files that load without running code from the file: skops, with torch weights as arrays."""

from __future__ import annotations

import copy
import importlib
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from skfkd.deploy._extra import require

__all__ = ["load_model", "save_model"]

# What save_model writes around the model: {"skfkd_model_file": FILE_FORMAT, "skfkd_version":
# ..., "model": ...}. FILE_FORMAT changes when files written before cannot be read the same
# way (a new attribute layout of _SavedNetwork, say); the skfkd version says who wrote it.
FILE_FORMAT = 1

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

# What skorch's initialize() builds again, and what the next fit re-creates.
_REBUILT = {
    "module_",
    "criterion_",
    "optimizer_",
    "callbacks_",
    "history_",
    "initialized_",
    "virtual_params_",
    "init_context_",
    "prefixes_",
    "cuda_dependent_attributes_",
    "device_",
    "_modules",
    "_criteria",
    "_optimizers",
    "_generator",
    "_params_to_validate",
}


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


def load_model(path, *, trusted=()):
    """Load a model saved by :func:`save_model`, refusing types that are not trusted.

    The file is checked before anything in it is created: every type it names must be
    one that skops trusts (scikit-learn's estimators, numpy, builtins), one of skfkd's
    own model types, one of the few classes that a default
    :class:`~skfkd.FacialKeypointRegressor` names as parameters (torch's ``AdamW`` and
    ``DataLoader``, skorch's ``Dataset`` and ``ValidSplit``), a path, or one listed in
    ``trusted``. Otherwise it raises, naming the other types, and nothing from the file
    has been imported or run.

    Parameters
    ----------
    path : str or path-like
        A ``.skops`` file.
    trusted : sequence of str, default=()
        More types to trust, by their full names as the error lists them
        (``"package.module.Class"``). Trust only types whose code you have read: loading
        one may import its module, and a custom regressor class or torch ``module`` is
        instantiated.

    Returns
    -------
    model : estimator

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.
    ValueError
        When the file is not a skops file (empty, truncated or of another kind), or it
        holds types that are not trusted.

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
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a .skops file written by skfkd.deploy.save_model")
    if not path.is_file():
        raise FileNotFoundError(f"the model file {path} does not exist")
    try:
        found = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
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
    model = _unwrap(sio.load(path, trusted=[*TRUSTED_TYPES, *trusted]), path)
    return _map_estimators(model, _SavedNetwork, lambda saved: saved.rebuild(trusted))


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
    """A FacialKeypointRegressor as skops can store it safely.

    ``estimator_class`` (its full name), ``params`` (``get_params(deep=False)``),
    ``attributes`` (its fitted attributes but the torch objects), ``history`` (a list of
    dicts) and ``weights`` (the module's ``state_dict`` as numpy arrays; None when not
    fitted).
    """

    @classmethod
    def from_regressor(cls, regressor):
        torch = require("torch")
        saved = cls()
        saved.estimator_class = f"{type(regressor).__module__}.{type(regressor).__qualname__}"
        params = regressor.get_params(deep=False)
        saved.params = {name: value for name, value in params.items() if not name.startswith("_")}
        saved.attributes, saved.weights, saved.history = {}, None, None
        if not getattr(regressor, "initialized_", False) or not hasattr(regressor, "n_outputs_"):
            return saved
        for name, value in vars(regressor).items():
            if name in saved.params or name in _REBUILT:
                continue
            if isinstance(value, (torch.Tensor, torch.nn.Module, torch.Generator)):
                raise TypeError(
                    f"save_model cannot store the regressor's attribute {name!r} ({type(value).__name__}) safely"
                )
            saved.attributes[name] = value
        saved.history = [dict(epoch) for epoch in regressor.history_]
        saved.weights = {
            name: tensor.detach().cpu().numpy() for name, tensor in regressor.module_.state_dict().items()
        }
        return saved

    def rebuild(self, trusted):
        torch = require("torch")
        from skorch.history import History

        from skfkd.neural import FacialKeypointRegressor

        # skfkd's own classes are the package's code; any other must be trusted by name.
        if not self.estimator_class.startswith("skfkd.") and self.estimator_class not in trusted:
            raise ValueError(
                f"the file holds a regressor of type {self.estimator_class}, which is not trusted. Nothing was "
                "loaded. If you trust it (you have read its code), pass trusted=[...] with this name"
            )
        module_name, _, class_name = self.estimator_class.rpartition(".")
        estimator_class = getattr(importlib.import_module(module_name), class_name)
        if not (isinstance(estimator_class, type) and issubclass(estimator_class, FacialKeypointRegressor)):
            raise ValueError(f"{self.estimator_class} is not a FacialKeypointRegressor")
        regressor = estimator_class(**self.params)
        if self.weights is None:
            return regressor
        for name, value in self.attributes.items():
            setattr(regressor, name, value)
        requested = regressor.device
        if str(requested).startswith("cuda") and not torch.cuda.is_available():
            regressor.device = "cpu"  # as an unpickled regressor: onto the CPU where CUDA is absent
        try:
            with torch.random.fork_rng(devices=[]):  # the random initial weights are replaced below
                regressor.initialize()
        finally:
            regressor.device = requested
        weights = {name: torch.from_numpy(np.array(array)) for name, array in self.weights.items()}
        regressor.module_.load_state_dict(weights, strict=True)
        regressor.history_ = History(self.history)
        return regressor
