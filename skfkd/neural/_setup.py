"""The skorch plumbing of FacialKeypointRegressor: parameters, devices, initialisation.

Kept apart from the estimator (``_regressor.py``), which holds what it does with data.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import torch
from sklearn.utils import check_random_state

from skfkd._images import infer_image_shape, split_channels
from skfkd._params import check_params
from skfkd.augmentation import KeypointAugmenter
from skfkd.neural._callbacks import (
    CosineLearningRate,
    PatientEarlyStopping,
    ProgressBar,
    StopOnNonFinite,
    TrainingCheckpoint,
)
from skfkd.neural._interrupts import interrupts_deferred

# The devices a model can name: what torch calls them, plus "auto".
_DEVICE_NAMES = r"auto|cpu|cuda(:\d+)?|mps|xpu(:\d+)?"


def resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _callbacks_kind_ok(callbacks):
    return (
        callbacks is None
        or isinstance(callbacks, list)
        or (isinstance(callbacks, str) and callbacks == "disable")
    )


class SkorchSetup:
    """Mixed into a skorch ``NeuralNet``: parameter checks and routing, the "auto" device,
    the network built from the data's shape (or from parameters, before any data), and an
    inference-only initialisation for loaded models."""

    def _get_param_names(self):
        # skorch takes every attribute not ending in "_" for a parameter, private
        # bookkeeping (_params_to_validate, _rng, _generator) included: clone would pass
        # it to __init__, and get_params would show it.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def _get_params_callbacks(self, deep=True):
        # A callbacks value of the wrong kind is reported by fit, naming the parameter;
        # get_params (which set_params and clone call) must not fail on it first.
        if not _callbacks_kind_ok(self.callbacks):
            return {}
        return super()._get_params_callbacks(deep=deep)

    def set_params(self, **params):
        """Set parameters, including the augmenter's as ``augmentation__<name>``.

        skorch routes ``module__*``, ``optimizer__*`` and the like itself; the nested
        parameters of the ``augmentation`` estimator are routed here, so that
        ``GridSearchCV`` can tune ``augmentation__rotation``.

        Returns
        -------
        self : FacialKeypointRegressor
        """
        prefix = "augmentation__"
        nested = {key[len(prefix) :]: params.pop(key) for key in list(params) if key.startswith(prefix)}
        if "callbacks" in params and not _callbacks_kind_ok(params["callbacks"]):
            # skorch builds the callbacks at once, and would fail on it with a TypeError;
            # stored as it is, fit reports it, naming the parameter.
            self.callbacks = params.pop("callbacks")
        if params:
            super().set_params(**params)
        if nested:
            if not isinstance(self.augmentation, KeypointAugmenter):
                raise ValueError(
                    f"cannot set {sorted(nested)} on augmentation={self.augmentation!r}; "
                    "pass augmentation=KeypointAugmenter(...) first"
                )
            self.augmentation.set_params(**nested)
        return self

    # -- skorch components -------------------------------------------------------

    @property
    def _default_callbacks(self):
        # The list must not depend on parameter values: skorch builds it inside
        # get_params, which sklearn calls with arbitrary values; each callback reads the
        # parameters it needs when training starts.
        return [
            *super()._default_callbacks,
            ("stop_on_non_finite", StopOnNonFinite()),
            ("lr_schedule", CosineLearningRate()),
            ("early_stopping", PatientEarlyStopping()),
            ("progress_bar", ProgressBar()),
        ]

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # A TrainingCheckpoint that resumed this fit has done some of its epochs already.
        for _, callback in self.callbacks_:
            if isinstance(callback, TrainingCheckpoint) and callback.epochs_left_ is not None:
                epochs = callback.epochs_left_
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def _build_module(self):
        """The network that the parameters and the fitted data shape describe (on torch's
        default device: a model file's weights are checked against one built on "meta")."""
        params = self.get_params_for("module")
        params.update(image_shape=self.image_shape_, n_outputs=self.n_outputs_, latent_dim=self.latent_dim)
        # Passed only for RGB, so that a network of one's own for gray faces need not know it.
        if self.n_channels_ != 1:
            params["in_channels"] = self.n_channels_
        return self.initialized_instance(self.module, params)

    def initialize_module(self):
        self.module_ = self._build_module().to(self.device_).to(memory_format=torch.channels_last)
        return self

    def initialize_criterion(self):
        params = self.get_params_for("criterion")
        params.setdefault("autoencoder_weight", self.autoencoder_weight)
        params.setdefault("keypoint_loss", self.keypoint_loss)
        if self.heatmap_weight:  # passed only then, so that a criterion of one's own need not know it
            params.setdefault("heatmap_weight", self.heatmap_weight)
        self.criterion_ = self.initialized_instance(self.criterion, params).to(self.device_)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        params = self.get_params_for("optimizer")
        params.setdefault("weight_decay", self.weight_decay)
        params.setdefault("lr", self.lr)
        self.optimizer_ = self.optimizer(self.module_.parameters(), **params)
        return self

    def initialize(self):
        """Build the network, criterion, optimizer and callbacks (skorch's ``initialize``).

        Before ``fit`` has seen data, the network's shape comes from the ``image_shape``
        and ``layout`` parameters, so that skorch's ``load_params`` can fill it.

        Returns
        -------
        self : FacialKeypointRegressor
        """
        if not hasattr(self, "n_outputs_"):
            self._shape_from_parameters()
        # The resolved device lives in ``device_``; ``device`` keeps what the user asked.
        self.device_ = resolve_device(self.device)
        with interrupts_deferred():
            return super().initialize()

    def _shape_from_parameters(self):
        if self.image_shape is None or self.layout is None:
            raise ValueError(
                "initialize() before fit needs the network's shape: pass image_shape=(height, width) and "
                "layout (skfkd.IBUG_68, skfkd.KAGGLE_15 or your own KeypointLayout)"
            )
        self._check_parameters()
        shape = infer_image_shape(int(np.prod(self.image_shape)), self.image_shape, allow_colour=True)
        self.image_shape_, self.n_channels_ = split_channels(shape)
        self.n_features_in_ = int(np.prod(shape))
        self.layout_, self.n_outputs_ = self.layout, 2 * self.layout.n_keypoints
        # Statistics fit would measure: "image" standardisation uses them only to keep
        # blank images blank; "dataset" needs the training set's (fit measures them).
        self.input_mean_, self.input_std_ = 0.0, 1.0
        self._rng = check_random_state(self.random_state)

    def _initialize_for_inference(self):
        """Initialise everything but the optimizer, which prediction never uses and whose
        first construction in a process costs seconds (torch imports its compiler stack
        then); training builds it when it starts. On a machine without CUDA, a model that
        names CUDA is placed on the CPU, as an unpickled one is."""
        self.device_ = resolve_device(self.device)
        if str(self.device_).startswith("cuda") and not torch.cuda.is_available():
            self.device_ = "cpu"
        requested, self.device = self.device, self.device_
        try:
            self._initialize_virtual_params()
            self._initialize_callbacks()
            self._initialize_module()
            self._initialize_criterion()
            self._initialize_history()
        finally:
            self.device = requested
        self.initialized_ = True
        return self

    @contextlib.contextmanager
    def _skorch_sees_resolved_device(self):
        """skorch reads ``self.device``, which may say "auto" here, to place modules and
        tensors: show it the resolved device while it works (initialize, set_params on a
        fitted model, training, predict, load_params)."""
        requested = self.device
        self.device = resolve_device(requested)
        try:
            yield
        finally:
            self.device = requested

    def load_params(self, *args, **kwargs):
        """skorch's ``load_params`` (also used by ``LoadInitState``), onto the resolved device."""
        with self._skorch_sees_resolved_device():
            return super().load_params(*args, **kwargs)

    def _initialize_module(self, reason=None):
        with self._skorch_sees_resolved_device():
            return super()._initialize_module(reason=reason)

    def _initialize_criterion(self, reason=None):
        with self._skorch_sees_resolved_device():
            return super()._initialize_criterion(reason=reason)

    def __setstate__(self, state):
        # Unpickle onto the device the model trained on, or the CPU where that is absent.
        requested = state["device"]
        state["device"] = state.get("device_", "cpu")
        if "image_shape_" in state:
            state.setdefault("n_channels_", 1)  # pickled before colour models existed
        super().__setstate__(state)
        self.device_ = str(self.device)  # skorch may hand back a torch.device
        self.device = requested

    def _set_training(self, training=True):
        # Setting the mode walks every submodule: a one-face prediction would pay that
        # (~0.7 ms) every time, for a mode that is already set.
        if any(getattr(self, name + "_").training != training for name in [*self._modules, *self._criteria]):
            super()._set_training(training)

    def _autocast(self):
        if str(self.device_).startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _seeded(self):
        """Run the block with torch's global generators seeded from ``random_state``."""
        if self.random_state is None:
            return contextlib.nullcontext()
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=devices))
        torch.manual_seed(int(self._rng.randint(2**31 - 1)))
        return stack

    def _check_parameters(self):
        """Check every parameter against ``_parameter_constraints`` (skorch's own
        ``_validate_params`` checks the prefixed ones)."""
        check_params(self._parameter_constraints, self.get_params(deep=False), type(self).__name__)
        device = self.device
        if isinstance(device, str) and not re.fullmatch(_DEVICE_NAMES, device):
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda', 'cuda:<n>', 'mps' or 'xpu'; got {device!r}"
            )
