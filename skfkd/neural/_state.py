"""A fitted FacialKeypointRegressor as plain data, and back, checked at every step.

This is the hook :func:`skfkd.deploy.save_model` and :func:`~skfkd.deploy.load_model`
store regressors with. The data come from a file that anybody may have written, so
:func:`regressor_from_state` trusts nothing in them: it rebuilds only the parameters on
an allow-list, each checked against the class's constraints; parameters that reach code
(compilation, callbacks, classes, data loaders, devices other than cpu/cuda/auto) must
keep their defaults; fitted attributes are on an allow-list too; the weights must have
exactly the shapes that the parameters give the network, checked on torch's "meta"
device before any memory is taken for them.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from dataclasses import fields
from numbers import Integral, Real

import numpy as np
import torch
from skorch.dataset import Dataset, ValidSplit
from skorch.history import History
from torch.utils.data import DataLoader

from skfkd._layout import KeypointLayout
from skfkd.augmentation import KeypointAugmenter
from skfkd.neural._loss import KeypointAutoencoderLoss
from skfkd.neural._modules import KeypointAutoencoder
from skfkd.neural._regressor import FacialKeypointRegressor

__all__ = ["regressor_from_state", "regressor_to_state"]

STATE_KEYS = ("estimator_class", "params", "attributes", "history", "weights")

# Parameters that hold code or reach it: a state keeps their defaults only.
_DEFAULT_ONLY = {
    "iterator_train": DataLoader,
    "iterator_valid": DataLoader,
    "dataset": Dataset,
    "predict_nonlinearity": "auto",
    "torch_load_kwargs": None,
    "use_caching": "auto",
    "accelerator": None,
}
# Never stored (they are code, or run it): a fresh load has their defaults.
_NOT_STORED = {"callbacks": None, "compile": False}
# What AcceleratedFacialKeypointRegressor's __init__ sets itself.
_SET_BY_INIT = {"callbacks__print_log__sink": print}
# Classes named by parameters: the defaults, or classes trusted by name.
_CLASS_PARAMS = {
    "module": KeypointAutoencoder,
    "criterion": KeypointAutoencoderLoss,
    "optimizer": torch.optim.AdamW,
}
# skorch's (and AccelerateMixin's) own parameters that are plain data.
_SKORCH_DATA = {"warm_start", "unwrap_after_train"}
_OPTIMIZER_ARGUMENTS = {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"}
_LOADABLE_DEVICES = re.compile(r"auto|cpu|cuda(:\d+)?")
# A state's plain values nest no deeper than this (tuples of tuples, at most).
_MAX_DEPTH = 4


def regressor_to_state(regressor):
    """A :class:`~skfkd.FacialKeypointRegressor` as plain data: parameters, fitted
    attributes, learning curves and weights as numpy arrays.

    Callbacks and compilation are code, not data: they are left out (with a warning
    naming them when they differ from the defaults); add them again after
    :func:`regressor_from_state`. The optimizer's state is not kept, nor the per-batch
    records of the history (its epochs are).

    Parameters
    ----------
    regressor : FacialKeypointRegressor
        Fitted or not.

    Returns
    -------
    state : dict
        ``estimator_class`` (its full name), ``params``, ``attributes`` (None when not
        fitted), ``history`` (a list of dicts, or None) and ``weights`` (the network's
        ``state_dict`` as numpy arrays, or None).

    Examples
    --------
    >>> from skfkd import FacialKeypointRegressor
    >>> from skfkd.neural import regressor_to_state
    >>> state = regressor_to_state(FacialKeypointRegressor(latent_dim=64))
    >>> state["params"]["latent_dim"], state["weights"]
    (64, None)
    """
    if not isinstance(regressor, FacialKeypointRegressor):
        raise TypeError(f"expected a FacialKeypointRegressor; got {type(regressor).__name__}")
    params = {
        name: value for name, value in regressor.get_params(deep=False).items() if not name.startswith("_")
    }
    dropped = [
        name
        for name, value in params.items()
        if _is_not_stored(name) and not _same(value, _NOT_STORED.get(name, _SET_BY_INIT.get(name, object())))
    ]
    if dropped:
        warnings.warn(
            f"{', '.join(dropped)}: callbacks and compilation are code, which a model file does not hold; "
            "the saved model has the defaults. Set them again after loading",
            UserWarning,
            stacklevel=3,
        )
    state = {
        "estimator_class": f"{type(regressor).__module__}.{type(regressor).__qualname__}",
        "params": {name: value for name, value in params.items() if not _is_not_stored(name)},
        "attributes": None,
        "history": None,
        "weights": None,
    }
    if not getattr(regressor, "initialized_", False) or not hasattr(regressor, "n_outputs_"):
        return state
    state["attributes"] = {
        name: getattr(regressor, name) for name in _ATTRIBUTE_CHECKS if name in vars(regressor)
    }
    # The learning curves, epoch by epoch; skorch's per-batch records would make the
    # file's schema ten times longer (and its loading that much slower) for no curve.
    state["history"] = [
        {key: value for key, value in epoch.items() if key != "batches"} for epoch in regressor.history_
    ]
    state["weights"] = {
        name: tensor.detach().cpu().numpy() for name, tensor in regressor.module_.state_dict().items()
    }
    return state


def regressor_from_state(state, *, trusted=()):
    """Rebuild a regressor from :func:`regressor_to_state`'s data, trusting none of it.

    Only the parameters on an allow-list are rebuilt, each checked against the class's
    parameter constraints; parameters that hold or reach code (compilation, callbacks,
    data loaders and datasets, devices other than "auto", "cpu" and "cuda") must have
    their default values, and the ``module``, ``criterion`` and ``optimizer`` classes
    must be the defaults or named in ``trusted``. The weights must match, name for
    name and shape for shape, the network that the parameters describe (checked before
    the network takes memory). No optimizer is built: prediction needs none, and
    training builds one when it starts.

    Parameters
    ----------
    state : dict
        As :func:`regressor_to_state` returns it.
    trusted : sequence of str, default=()
        Full names (``"package.module.Class"``) of classes to accept beyond the
        defaults: a regressor subclass outside skfkd, or another module, criterion or
        optimizer class. Trust only classes whose code you have read.

    Returns
    -------
    regressor : FacialKeypointRegressor

    Raises
    ------
    ValueError
        Naming the first parameter, attribute or weight that is not accepted.

    Examples
    --------
    >>> import numpy as np
    >>> from skfkd import FacialKeypointRegressor
    >>> from skfkd.datasets import make_faces
    >>> from skfkd.neural import regressor_from_state, regressor_to_state
    >>> X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    >>> model = FacialKeypointRegressor(max_epochs=1, random_state=0).fit(X, y)
    >>> copy = regressor_from_state(regressor_to_state(model))
    >>> np.array_equal(copy.predict(X), model.predict(X))
    True
    >>> state = regressor_to_state(model)
    >>> state["params"]["iterator_train__num_workers"] = 64
    >>> regressor_from_state(state)
    Traceback (most recent call last):
    ...
    ValueError: the model's parameter 'iterator_train__num_workers' is not one a model file may set ...
    """
    trusted = set(trusted)
    if not isinstance(state, dict) or set(state) != set(STATE_KEYS):
        raise ValueError(f"a regressor's state must be a dict with the keys {', '.join(STATE_KEYS)}")
    estimator_class = _estimator_class(state["estimator_class"], trusted)
    params = _checked_params(state["params"], estimator_class, trusted)
    regressor = estimator_class(**params)
    try:
        regressor._check_parameters()
    except ValueError as error:
        raise ValueError(f"the model's parameters are not valid: {error}") from None
    if state["weights"] is None:
        if state["attributes"]:  # files before regressor_to_state stored {} here
            raise ValueError("the model has fitted attributes but no weights")
        return regressor
    attributes = _checked_attributes(state["attributes"])
    for name, value in attributes.items():
        setattr(regressor, name, value)
    weights = _checked_weights(state["weights"], regressor)
    history = _checked_history(state["history"])
    regressor._initialize_for_inference()
    regressor.module_.load_state_dict(weights, strict=True)
    regressor.history_ = History(history)
    return regressor


def _is_not_stored(name):
    return name.split("__", 1)[0] in _NOT_STORED


def _same(value, default):
    if isinstance(default, type) or callable(default):
        return value is default
    return type(value) is type(default) and value == default


def _estimator_class(name, trusted):
    if not isinstance(name, str) or "." not in name:
        raise ValueError(f"the model's estimator class must be a full class name; got {name!r}")
    # skfkd's own classes are the package's code; any other must be trusted by name.
    if not name.startswith("skfkd.") and name not in trusted:
        raise ValueError(
            f"the file holds a regressor of type {name}, which is not trusted. If you "
            "trust it (you have read its code), pass trusted=[...] with this name"
        )
    module_name, _, class_name = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ValueError(f"the model's estimator class {name} does not exist here") from None
    if not (isinstance(found, type) and issubclass(found, FacialKeypointRegressor)):
        raise ValueError(f"{name} is not a FacialKeypointRegressor")
    return found


def _class_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _checked_params(params, estimator_class, trusted):
    if not isinstance(params, dict) or not all(isinstance(name, str) for name in params):
        raise ValueError("the model's parameters must be a dict keyed by name")
    constructor = (
        set(inspect.signature(estimator_class.__init__).parameters) - {"self", "kwargs"} | _SKORCH_DATA
    )
    data_params = constructor - set(_CLASS_PARAMS) - set(_DEFAULT_ONLY) - set(_NOT_STORED) - {"train_split"}
    classes = {}
    for name, default in _CLASS_PARAMS.items():
        value = params.get(name, default)
        if not (isinstance(value, type) and (value is default or _class_name(value) in trusted)):
            shown = _class_name(value) if isinstance(value, type) else type(value).__name__
            raise ValueError(
                f"the model's parameter {name!r} is {shown}, not skfkd's default {_class_name(default)}. If "
                "you trust that class (you have read its code), pass trusted=[...] with its name"
            )
        classes[name] = value
    accepted = {}
    for name, value in params.items():
        prefix, _, argument = name.partition("__")
        if name in _CLASS_PARAMS:
            accepted[name] = value
        elif name in _DEFAULT_ONLY or name in _SET_BY_INIT or name in _NOT_STORED:
            # Files before regressor_to_state stored callbacks and compile, with their defaults.
            default = {**_DEFAULT_ONLY, **_SET_BY_INIT, **_NOT_STORED}[name]
            if not _same(value, default):
                raise ValueError(
                    f"the model's parameter {name!r} must keep its default ({default!r}): a model file may not "
                    "set code"
                )
        elif name == "device":
            if not (isinstance(value, str) and _LOADABLE_DEVICES.fullmatch(value)):
                raise ValueError(f"the model's device must be 'auto', 'cpu' or 'cuda[:n]'; got {value!r}")
            accepted[name] = value
        elif name == "train_split":
            accepted[name] = _checked_split(value)
        elif name in data_params:
            accepted[name] = _checked_data(name, value)
        elif prefix in ("module", "criterion") and argument in _constructor_arguments(classes[prefix]):
            accepted[name] = _plain(name, value)
        elif prefix == "optimizer" and argument in _OPTIMIZER_ARGUMENTS:
            accepted[name] = _plain(name, value)
        else:
            raise ValueError(
                f"the model's parameter {name!r} is not one a model file may set (it may reach code)"
            )
    return accepted


def _constructor_arguments(cls):
    return set(inspect.signature(cls.__init__).parameters) - {
        "self",
        "image_shape",
        "n_outputs",
        "latent_dim",
    }


def _checked_data(name, value):
    if name == "augmentation" and isinstance(value, KeypointAugmenter):
        return _checked_augmenter(value, name)
    if name == "layout" and isinstance(value, KeypointLayout):
        return _checked_layout(value, name)
    return _plain(name, value)


def _plain(name, value, depth=0):
    """``value`` when it is plain data: numbers, strings, None, and tuples, lists and
    string-keyed dicts of them."""
    if value is None or isinstance(value, (bool, Integral, Real, str)):
        return value
    if type(value) in (tuple, list) and depth < _MAX_DEPTH:
        return type(value)(_plain(name, item, depth + 1) for item in value)
    if type(value) is dict and depth < _MAX_DEPTH and all(isinstance(key, str) for key in value):
        return {key: _plain(name, item, depth + 1) for key, item in value.items()}
    raise ValueError(f"the model's parameter {name!r} holds a {type(value).__name__}, not plain data")


def _checked_split(value):
    if value is None:
        return None
    if type(value) is not ValidSplit or set(vars(value)) != {"cv", "stratified", "random_state"}:
        raise ValueError("the model's train_split must be None or a plain skorch ValidSplit")
    cv, stratified, random_state = value.cv, value.stratified, value.random_state
    cv_ok = (isinstance(cv, float) and 0 < cv < 1) or (
        isinstance(cv, Integral) and not isinstance(cv, bool) and cv >= 2
    )
    if not (cv_ok and stratified is False and (random_state is None or isinstance(random_state, Integral))):
        raise ValueError(f"the model's train_split has values that are not accepted: {vars(value)}")
    return ValidSplit(cv, stratified=False, random_state=random_state)


def _checked_layout(layout, where):
    names = [field.name for field in fields(KeypointLayout)]
    if type(layout) is not KeypointLayout or set(vars(layout)) != set(names):
        raise ValueError(f"the model's {where} is not a plain KeypointLayout")
    try:
        return KeypointLayout(**{name: _plain(where, getattr(layout, name)) for name in names})
    except (TypeError, ValueError) as error:
        raise ValueError(f"the model's {where} is not a valid KeypointLayout: {error}") from None


def _checked_augmenter(augmenter, where, fitted=False):
    if type(augmenter) is not KeypointAugmenter:
        raise ValueError(f"the model's {where} is not a KeypointAugmenter")
    params = augmenter.get_params(deep=False)
    fitted_names = {"layout_", "image_shape_", "n_features_in_"} if fitted else set()
    extra = set(vars(augmenter)) - set(params) - fitted_names
    if extra:
        raise ValueError(f"the model's {where} holds attributes it may not: {', '.join(sorted(extra))}")
    rebuilt = KeypointAugmenter(
        **{
            name: _checked_layout(value, f"{where}.layout") if isinstance(value, KeypointLayout) else value
            for name, value in params.items()
        }
    )
    try:
        rebuilt._check_params()
    except ValueError as error:
        raise ValueError(f"the model's {where} is not valid: {error}") from None
    checks = {"layout_": _checked_layout, "image_shape_": _pair, "n_features_in_": _positive_int}
    for name in fitted_names & set(vars(augmenter)):
        setattr(rebuilt, name, checks[name](getattr(augmenter, name), f"{where}.{name}"))
    return rebuilt


def _pair(value, name):
    if not (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(side, Integral) and not isinstance(side, bool) and side >= 1 for side in value)
    ):
        raise ValueError(f"the model's {name} must be two positive integers; got {value!r}")
    return tuple(int(side) for side in value)


def _positive_int(value, name):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"the model's {name} must be a positive integer; got {value!r}")
    return int(value)


def _channels(value, name):
    if _positive_int(value, name) not in (1, 3):
        raise ValueError(f"the model's {name} must be 1 (gray) or 3 (RGB); got {value!r}")
    return int(value)


def _finite(value, name, positive=False):
    if (
        not isinstance(value, Real)
        or isinstance(value, bool)
        or not np.isfinite(value)
        or (positive and value <= 0)
    ):
        raise ValueError(f"the model's {name} must be a finite {'positive ' if positive else ''}number")
    return float(value)


def _random_state(value, name):
    if not isinstance(value, np.random.RandomState):
        raise ValueError(f"the model's {name} must be a numpy RandomState")
    return value


def _feature_names(value, name):
    if not (isinstance(value, np.ndarray) and value.ndim == 1 and all(isinstance(v, str) for v in value)):
        raise ValueError(f"the model's {name} must be a 1-D array of column names")
    return value


_ATTRIBUTE_CHECKS = {
    "n_features_in_": _positive_int,
    "image_shape_": _pair,
    "n_channels_": _channels,
    "n_outputs_": _positive_int,
    "layout_": lambda value, name: None if value is None else _checked_layout(value, name),
    "input_mean_": _finite,
    "input_std_": lambda value, name: _finite(value, name, positive=True),
    "augmentation_": lambda value, name: (
        None if value is None else _checked_augmenter(value, name, fitted=True)
    ),
    "_rng": _random_state,
    "feature_names_in_": _feature_names,
}


def _checked_attributes(attributes):
    if not isinstance(attributes, dict) or not all(isinstance(name, str) for name in attributes):
        raise ValueError("the model's fitted attributes must be a dict keyed by name")
    unknown = sorted(set(attributes) - set(_ATTRIBUTE_CHECKS))
    if unknown:
        raise ValueError(f"the model holds attributes a model file may not set: {', '.join(unknown[:5])}")
    missing = {"n_features_in_", "image_shape_", "n_outputs_", "input_mean_", "input_std_"} - set(attributes)
    if missing:
        raise ValueError(f"the model lacks the fitted attributes {', '.join(sorted(missing))}")
    checked = {name: _ATTRIBUTE_CHECKS[name](value, name) for name, value in attributes.items()}
    checked.setdefault("n_channels_", 1)  # files written before colour models existed are gray
    height, width = checked["image_shape_"]
    if height * width * checked["n_channels_"] != checked["n_features_in_"]:
        raise ValueError("the model's image_shape_ does not hold n_features_in_ pixels")
    if checked["n_outputs_"] % 2:
        raise ValueError("the model's n_outputs_ must be even (x, y per keypoint)")
    layout = checked.get("layout_")
    if layout is not None and 2 * layout.n_keypoints != checked["n_outputs_"]:
        raise ValueError("the model's layout_ does not have n_outputs_ / 2 keypoints")
    return checked


def _checked_weights(weights, regressor):
    """The weights as tensors, once they match the network the parameters describe."""
    if not isinstance(weights, dict) or not all(
        isinstance(name, str) and isinstance(array, np.ndarray) for name, array in weights.items()
    ):
        raise ValueError("the model's weights must be a dict of numpy arrays keyed by name")
    try:
        with torch.device("meta"):
            expected = regressor._build_module().state_dict()
    except (TypeError, ValueError) as error:
        raise ValueError(f"the model's network parameters are not valid: {error}") from None
    if set(weights) != set(expected):
        unexpected, missing = sorted(set(weights) - set(expected)), sorted(set(expected) - set(weights))
        raise ValueError(
            "the model's weights do not fit its network: "
            f"unexpected {unexpected[:3]} ({len(unexpected)}), missing {missing[:3]} ({len(missing)})"
        )
    tensors = {}
    for name, array in weights.items():
        tensor = expected[name]
        if array.shape != tuple(tensor.shape) or array.dtype.kind not in "fiu" or array.dtype.itemsize > 8:
            raise ValueError(
                f"the model's weight {name!r} is {array.dtype} {array.shape}; its network needs "
                f"{tuple(tensor.shape)} numbers"
            )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"the model's weight {name!r} holds NaN or infinity")
        tensors[name] = torch.from_numpy(np.array(array, dtype=np.dtype(str(tensor.dtype).split(".")[-1])))
    return tensors


def _checked_history(history):
    if history is None:
        return []
    if not isinstance(history, list) or not all(
        isinstance(epoch, dict) and all(isinstance(key, str) for key in epoch) for epoch in history
    ):
        raise ValueError("the model's history must be a list of dicts keyed by name")
    return [{key: _plain(f"history[{key!r}]", value) for key, value in epoch.items()} for epoch in history]
