"""FacialKeypointRegressor: the keypoint autoencoder with the scikit-learn API (skorch)."""

from __future__ import annotations

import contextlib
import copy
import re
import signal
import threading
import warnings
import weakref

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import _num_samples, check_array, check_is_fitted, validate_data
from skorch import NeuralNetRegressor
from skorch.dataset import ValidSplit

from skfkd._images import as_image_stack, infer_image_shape
from skfkd._layout import KeypointLayout, resolve_layout
from skfkd._params import Interval, Real, StrOptions, check_params, non_negative_int, positive_int
from skfkd.augmentation import KeypointAugmenter
from skfkd.metrics import keypoint_r2_score
from skfkd.neural._callbacks import CosineLearningRate, PatientEarlyStopping, ProgressBar, StopOnNonFinite
from skfkd.neural._dask import dask_worker_fit
from skfkd.neural._data import MIN_TRAINING_BATCH, BatchIterator, FaceTensors
from skfkd.neural._loss import KeypointAutoencoderLoss
from skfkd.neural._modules import KeypointAutoencoder, fold_batch_norm

__all__ = ["FacialKeypointRegressor"]

# augmentation="auto": the geometric transforms alone, which measured best on held-out
# YouTube identities (see the augmentation parameter).
AUTO_AUGMENTATION = {
    "rotation": 15.0,
    "scale": (0.9, 1.1),
    "shift": 0.05,
    "flip": 0.0,
    "brightness": 0.0,
    "contrast": 0.0,
    "noise": 0.0,
    "occlusion": 0.0,
}


# Inference copies of fitted networks, by network: kept outside the estimator so that
# predict leaves it unchanged (and pickles stay small), and gone with the network.
_INFERENCE_NETWORKS = weakref.WeakKeyDictionary()


# The devices a model can name: what torch calls them, plus "auto".
_DEVICE_NAMES = re.compile(r"auto|cpu|cuda(:\d+)?|mps|xpu(:\d+)?")
# Pixels beyond this overflow float32, the network's precision.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _callbacks_kind_ok(callbacks):
    return (
        callbacks is None
        or isinstance(callbacks, list)
        or (isinstance(callbacks, str) and callbacks == "disable")
    )


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold Ctrl-C back until the block ends, then raise it.

    The first optimizer a process builds makes torch import its compiler stack (some 800
    modules, seconds); a KeyboardInterrupt in the middle of that import leaves modules
    half-initialised, and every later training in the process fails. Outside the main
    thread signals cannot be handled, and nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(signal.SIGINT, received[0])


class FacialKeypointRegressor(NeuralNetRegressor):
    """Facial keypoint regression with a CNN and an autoencoder bottleneck.

    A convolutional encoder compresses each face to a latent vector; a fully connected
    head regresses the keypoints from it while a decoder reconstructs the face from it,
    an auxiliary objective (weight ``autoencoder_weight``) that also learns from
    unlabelled images. It is a skorch ``NeuralNetRegressor``, so every skorch parameter
    (``module__*``, ``optimizer__*``, ``callbacks``, ...) works too.

    Keypoints go in and come out in pixels, in the ``[kp0_x, kp0_y, ...]`` order, with
    NaN for unannotated coordinates: those are left out of the loss, never imputed, and
    rows with no annotated keypoint train the autoencoder only. Images are rows of
    pixels ``(n, h*w)`` (square unless ``image_shape`` is given) or ``(n, h, w)``,
    uint8 or float; the regressor standardises them itself (``standardize``).

    Parameters
    ----------
    module : torch module class, default=KeypointAutoencoder
        Built with ``image_shape``, ``n_outputs`` and ``latent_dim`` from the data and
        parameters, plus any ``module__*`` parameters. Its ``forward(images,
        reconstruct)`` returns ``(keypoints, reconstruction)``.
    criterion : torch module class, default=KeypointAutoencoderLoss
        Built with ``autoencoder_weight`` and ``keypoint_loss``, plus any
        ``criterion__*`` parameters; called as ``criterion(outputs, targets, images)``.
    latent_dim : int, default=128
        Size of the bottleneck.
    autoencoder_weight : float, default=0.0
        Weight of the reconstruction error in the loss; 0 trains the plain CNN (and
        skips the decoder). Off by default because on held-out YouTube identities it
        measured worse with full labels (NME 6.16% at 0, 6.63% at 0.01, 7.19% at 0.05
        after 30 epochs); turn it on to learn from unlabelled faces (rows of NaN).
    keypoint_loss : {"l1", "mse", "smooth_l1", "wing"}, default="l1"
        Error on each annotated coordinate (in [-1, 1] units) that training minimises
        (see :class:`~skfkd.neural.KeypointAutoencoderLoss`). L1 measured a little
        better than the others on held-out YouTube identities, within noise (NME 4.92%,
        against wing 4.96% and mse 4.99%, 60 epochs, before the local refinement).
    standardize : {"image", "dataset"}, default="image"
        "image" scales each image to zero mean and unit variance on its own, so a
        darker or low-contrast photo looks like the training faces (held-out YouTube
        NME 4.16% against 4.26% with "dataset", 120 epochs); "dataset" uses the mean
        and standard deviation of the training pixels, one pair for all images.
    augmentation : "auto", KeypointAugmenter or None, default="auto"
        Applied to each training batch on the training device; never at predict time
        nor to the validation split. "auto" is the combination that measured best on
        held-out YouTube identities: rotation up to 15 degrees, zoom 0.9-1.1 and shifts
        up to 5%, no flips or photometric changes (NME 5.62% against 6.00% without
        augmentation, 5.89% photometric only, 6.04% with everything, at 30 epochs;
        5.14% against 5.68% at 60 epochs).
        Pass a :class:`~skfkd.augmentation.KeypointAugmenter` to choose (and tune)
        your own, or None to train on the images as they are.
    flip_test : bool, default=False
        Also predict on mirrored images and average (flip test-time augmentation),
        swapping left and right through the layout's flip pairs.
    layout : KeypointLayout or None, default=None
        Names the keypoints; None picks the built-in layout of that size, and is only
        needed for ``flip_test`` and augmentation with flips.
    image_shape : (int, int) or None, default=None
        Shape of the images when ``X`` is 2-D and not square.
    max_epochs : int, default=120
        Training epochs (fewer if early stopping ends sooner; the learning rate
        follows a cosine over ``max_epochs``). On held-out YouTube identities 120
        measured better than 60 (NME 4.16% against 4.32%), with the training still
        improving at the end, so more epochs may still help if you have the time.
    lr : float, default=2e-3
        Peak learning rate of AdamW, annealed with a cosine schedule.
    batch_size : int, default=64
    weight_decay : float, default=1e-4
        AdamW weight decay.
    patience : int, default=25
        Epochs without improvement of the validation loss before training stops (and
        the best weights are restored). Ignored when ``train_split`` is None. Long,
        because most of the gain of a cosine schedule comes in its low-rate tail: with
        10, training the pretrained landmarker stopped at epoch 64 of 120 on a
        validation loss that had flattened in the noise while the training loss still
        fell.
    train_split : callable or None, default=ValidSplit(0.1, random_state=0)
        Holds out a validation split for early stopping; None trains on everything
        (use it inside cross-validation).
    device : {"auto", "cpu", "cuda", ...}, default="auto"
        "auto" trains on CUDA when available (with bfloat16 autocast) and on the CPU
        otherwise. A model trained on CUDA loads and predicts on a CPU-only machine.
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, dropout, shuffling and augmentation; with an int,
        training on the CPU is reproducible.
    verbose : int, default=0
        1 prints a per-epoch log and a progress bar.
    **kwargs
        Other skorch ``NeuralNet`` parameters.

    Attributes
    ----------
    module_ : torch.nn.Module
        The fitted network.
    history_ : skorch History
        Per-epoch training and validation losses (learning curves).
    layout_ : KeypointLayout or None
        The layout used (None when the keypoint count has no built-in layout and no
        layout was given).
    image_shape_ : (int, int)
    n_features_in_ : int
    n_outputs_ : int
        ``2 * n_keypoints``.
    device_ : str
        The device training ran on.
    augmentation_ : KeypointAugmenter or None
        The fitted copy of ``augmentation`` used in training.

    Examples
    --------
    >>> from skfkd import FacialKeypointRegressor
    >>> from skfkd.datasets import make_faces
    >>> X, y = make_faces(64, image_size=32, random_state=0, return_X_y=True)
    >>> model = FacialKeypointRegressor(max_epochs=2, random_state=0).fit(X, y)
    >>> model.predict(X[:2]).shape
    (2, 30)
    """

    # Checked where the parameters are used (fit and predict), so that a value set later
    # or read from a model file is checked too; skorch's own parameters pass through.
    _parameter_constraints = {
        "module": [type, torch.nn.Module],
        "latent_dim": [positive_int],
        "autoencoder_weight": [Interval(Real, 0, _FLOAT32_MAX, closed="both")],
        "keypoint_loss": [StrOptions({"l1", "mse", "smooth_l1", "wing"})],
        "standardize": [StrOptions({"image", "dataset"})],
        "augmentation": [StrOptions({"auto"}), KeypointAugmenter, None],
        "flip_test": ["boolean"],
        "layout": [KeypointLayout, None],
        "image_shape": [tuple, list, None],
        "criterion": [type, torch.nn.Module],
        "optimizer": [callable],
        "max_epochs": [non_negative_int],
        "lr": [Interval(Real, 0, _FLOAT32_MAX, closed="right")],
        "batch_size": [positive_int],
        "weight_decay": [Interval(Real, 0, _FLOAT32_MAX, closed="both")],
        "patience": [positive_int],
        "train_split": [callable, None],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "compile": ["boolean"],
        "iterator_train": [callable],
        "iterator_valid": [callable],
        "dataset": [callable],
        "predict_nonlinearity": [callable, StrOptions({"auto"}), None],
        "callbacks": [list, StrOptions({"disable"}), None],
        "torch_load_kwargs": [dict, None],
        "use_caching": ["boolean", StrOptions({"auto"})],
    }

    def __init__(
        self,
        module=KeypointAutoencoder,
        *,
        latent_dim=128,
        autoencoder_weight=0.0,
        keypoint_loss="l1",
        standardize="image",
        augmentation="auto",
        flip_test=False,
        layout=None,
        image_shape=None,
        criterion=KeypointAutoencoderLoss,
        optimizer=torch.optim.AdamW,
        max_epochs=120,
        lr=2e-3,
        batch_size=64,
        weight_decay=1e-4,
        patience=25,
        train_split=ValidSplit(0.1, random_state=0),  # noqa: B008 (stateless; skorch does the same)
        device="auto",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.latent_dim = latent_dim
        self.autoencoder_weight = autoencoder_weight
        self.keypoint_loss = keypoint_loss
        self.standardize = standardize
        self.augmentation = augmentation
        self.flip_test = flip_test
        self.layout = layout
        self.image_shape = image_shape
        self.weight_decay = weight_decay
        self.patience = patience
        self.random_state = random_state

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

    def _build_module(self):
        """The network that the parameters and the fitted data shape describe (on torch's
        default device: a model file's weights are checked against one built on "meta")."""
        params = self.get_params_for("module")
        params.update(image_shape=self.image_shape_, n_outputs=self.n_outputs_, latent_dim=self.latent_dim)
        return self.initialized_instance(self.module, params)

    def initialize_module(self):
        self.module_ = self._build_module().to(self.device_).to(memory_format=torch.channels_last)
        return self

    def initialize_criterion(self):
        params = self.get_params_for("criterion")
        params.setdefault("autoencoder_weight", self.autoencoder_weight)
        params.setdefault("keypoint_loss", self.keypoint_loss)
        self.criterion_ = self.initialized_instance(self.criterion, params).to(self.device_)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        params = self.get_params_for("optimizer")
        params.setdefault("weight_decay", self.weight_decay)
        params.setdefault("lr", self.lr)
        self.optimizer_ = self.optimizer(self.module_.parameters(), **params)
        return self

    def initialize(self):
        # The resolved device lives in ``device_``; ``device`` keeps what the user asked.
        self.device_ = _resolve_device(self.device)
        with _interrupts_deferred():
            return super().initialize()

    def _initialize_for_inference(self):
        """Initialise everything but the optimizer, which prediction never uses and whose
        first construction in a process costs seconds (torch imports its compiler stack
        then); training builds it when it starts. On a machine without CUDA, a model that
        names CUDA is placed on the CPU, as an unpickled one is."""
        self.device_ = _resolve_device(self.device)
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
        """skorch places modules on ``self.device``, which may say "auto" here: show it the
        resolved device while it builds them (in initialize, and in set_params on a fitted
        model, which rebuilds the module)."""
        requested = self.device
        self.device = _resolve_device(requested)
        try:
            yield
        finally:
            self.device = requested

    def _initialize_module(self, reason=None):
        with self._skorch_sees_resolved_device():
            return super()._initialize_module(reason=reason)

    def _initialize_criterion(self, reason=None):
        with self._skorch_sees_resolved_device():
            return super()._initialize_criterion(reason=reason)

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        if dataset_valid is not None and len(dataset_train) < MIN_TRAINING_BATCH:
            warnings.warn(
                f"{len(X)} samples are too few for a validation split (it would leave "
                f"{len(dataset_train)} to train on); training on all of them, without early stopping",
                UserWarning,
                stacklevel=2,
            )
            return X, None
        return dataset_train, dataset_valid

    def __setstate__(self, state):
        # Unpickle onto the device the model trained on, or the CPU where that is absent.
        requested = state["device"]
        state["device"] = state.get("device_", "cpu")
        super().__setstate__(state)
        self.device_ = str(self.device)  # skorch may hand back a torch.device
        self.device = requested

    def get_iterator(self, dataset, training=False):
        return BatchIterator(self, dataset, training)

    def _autocast(self):
        if str(self.device_).startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def infer(self, x, **fit_params):
        reconstruct = self.module_.training and bool(self.autoencoder_weight)
        with self._autocast():
            return self.module_(x, reconstruct=reconstruct, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, y_true, X)

    # -- data ----------------------------------------------------------------------

    def _scale_targets(self, targets):
        """Pixels to [-1, 1]: image edges map to -1 and 1, pixel centres sit at integers."""
        size = self._target_size.to(targets.device)
        return (targets + 0.5) / size * 2 - 1

    def _unscale_targets(self, scaled):
        """[-1, 1] back to pixels (torch tensors in, torch tensors out)."""
        return (scaled + 1) / 2 * self._target_size.to(scaled.dtype) - 0.5

    @property
    def _target_size(self):
        height, width = self.image_shape_
        return torch.tensor([width, height], dtype=torch.float32).repeat(self.n_outputs_ // 2)

    def _validate_X(self, X, reset):
        X = np.asarray(X) if not hasattr(X, "shape") else X
        if getattr(X, "ndim", None) == 3:
            stack = check_array(X, allow_nd=True, dtype=(np.float32, np.float64), ensure_all_finite=True)
            X = stack.reshape(len(stack), -1)
            image_shape = stack.shape[1:]
        else:
            image_shape = None
        X = validate_data(self, X, reset=reset, dtype=(np.float32, np.float64), ensure_min_samples=1)
        if X.dtype == np.float64 and np.abs(X).max(initial=0) > _FLOAT32_MAX:
            value = X.flat[np.argmax(np.abs(X))]
            raise ValueError(
                f"X holds the pixel value {value:.4g}, beyond the range of float32 (about ±3.4e38), in which "
                "the network computes; scale the images first (skfkd.preprocessing.ImageScaler)"
            )
        if reset:
            self.image_shape_ = image_shape or infer_image_shape(X.shape[1], self.image_shape)
        elif image_shape is not None and image_shape != tuple(self.image_shape_):
            raise ValueError(f"X holds {image_shape} images but the model was fitted on {self.image_shape_}")
        return as_image_stack(X, self.image_shape_)

    def _validate_y(self, y, n_samples, *, require_every_column=True):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None; "
                "pass keypoints (NaN where not annotated)"
            )
        y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite="allow-nan", input_name="y")
        if y.ndim != 2 or y.shape[1] % 2:
            raise ValueError(
                f"y must be (n_samples, 2 * n_keypoints) with x, y columns per keypoint; got shape {y.shape}"
            )
        if len(y) != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {len(y)}")
        if np.isinf(y).any():
            raise ValueError("y contains infinity; use NaN for unannotated coordinates")
        empty = np.flatnonzero(np.isnan(y).all(axis=0))
        if require_every_column and len(empty):
            raise ValueError(
                f"y columns {empty[:10].tolist()} have no annotated value; the model cannot learn them"
            )
        return y

    def _to_tensor_images(self, images):
        # Writable as well as contiguous: torch warns on read-only arrays (joblib's
        # memory-mapped inputs in parallel model selection), which only those copy.
        images = np.require(images, dtype=np.float32, requirements=["C", "W"])
        return self._standardise(torch.from_numpy(images))

    def _standardise(self, images):
        """Raw pixels ``(n, h, w)`` (float32 tensor) to the network's input ``(n, 1, h, w)``.

        Pure torch: :func:`skfkd.deploy.export_onnx` traces it into the ONNX graph.
        """
        if self.standardize == "dataset":
            return ((images - self.input_mean_) / self.input_std_).unsqueeze(1)
        # In float64: squares of large float32 pixels (above ~1e19) overflow float32.
        images = images.to(torch.float64)
        centred = images - images.mean(dim=(1, 2), keepdim=True)
        spread = centred.square().mean(dim=(1, 2), keepdim=True).sqrt()
        # A (nearly) constant image has no spread to divide by: it stays (nearly) zero
        # rather than having its rounding noise blown up.
        return (centred / spread.clamp_min(1e-3 * self.input_std_)).to(torch.float32).unsqueeze(1)

    def _seeded(self):
        """Run the block with torch's global generators seeded from ``random_state``."""
        if self.random_state is None:
            return contextlib.nullcontext()
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=devices))
        torch.manual_seed(int(self._rng.randint(2**31 - 1)))
        return stack

    # -- the sklearn API -------------------------------------------------------------

    def fit(self, X, y, **fit_params):
        """Train the network from scratch (or continue, with ``warm_start=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, h*w) or (n_samples, h, w)
            Face images, uint8 or float.
        y : array-like of shape (n_samples, 2 * n_keypoints)
            Keypoints in pixels; NaN where not annotated.
        **fit_params : dict
            Passed on to skorch (``train_split`` and the module's ``forward``).

        Returns
        -------
        self : FacialKeypointRegressor
        """
        if not self.warm_start or not self.initialized_:
            self.initialized_ = False
        return self._fit(X, y, **fit_params)

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Continue training for ``max_epochs`` more epochs from the current weights.

        The first call initialises the network like :meth:`fit`.

        Returns
        -------
        self : FacialKeypointRegressor
        """
        return self._fit(X, y, **fit_params)

    def _check_parameters(self):
        """Check every parameter against ``_parameter_constraints`` (skorch's own
        ``_validate_params`` checks the prefixed ones)."""
        check_params(self._parameter_constraints, self.get_params(deep=False), type(self).__name__)
        device = self.device
        if isinstance(device, str) and not _DEVICE_NAMES.fullmatch(device):
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda', 'cuda:<n>', 'mps' or 'xpu'; got {device!r}"
            )

    def _fit(self, X, y, **fit_params):
        self._check_parameters()
        fresh = not self.initialized_
        if y is None:
            self._validate_y(y, 0)  # raises the error sklearn expects, before X is read
        images = self._validate_X(X, reset=fresh)
        if len(images) < MIN_TRAINING_BATCH:
            raise ValueError(
                f"{type(self).__name__} needs at least {MIN_TRAINING_BATCH} samples to train (batch norm "
                f"normalises over a batch); got {len(images)} sample"
            )
        # Continued training may see unlabelled faces only; a fresh fit must see every column.
        y = self._validate_y(y, len(images), require_every_column=fresh)
        if fresh:
            self.n_outputs_ = y.shape[1]
            self.layout_ = self._resolve_layout()
            self.input_mean_ = float(images.mean())
            # A blank training set has no spread; 1 keeps the scaling finite.
            self.input_std_ = float(images.std()) or 1.0
            self._rng = check_random_state(self.random_state)
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} columns but the model was fitted on {self.n_outputs_}")
        if fresh:
            # A fitted copy, so the user's augmenter (and a grid search's) stays untouched.
            self.augmentation_ = self._build_augmentation()
            if self.augmentation_ is not None:
                if self.layout is not None:
                    self.augmentation_.set_params(layout=self.layout)
                self.augmentation_.fit(images, y)
        weights_before = None if fresh else copy.deepcopy(self.module_.state_dict())
        try:
            with self._seeded(), dask_worker_fit(self):
                self._generator = torch.Generator().manual_seed(int(self._rng.randint(2**31 - 1)))
                if fresh:
                    self.initialize()
                elif not hasattr(self, "optimizer_"):  # loaded for inference; now it trains
                    with _interrupts_deferred():
                        self._initialize_optimizer()
                device = self.device_ if str(self.device_).startswith("cuda") else "cpu"
                dataset = FaceTensors(
                    self._to_tensor_images(images).to(device),
                    torch.as_tensor(y, dtype=torch.float32).to(device),
                )
                super().partial_fit(dataset, None, **fit_params)
        except FloatingPointError as error:
            if weights_before is None:
                self._forget_fit()
                raise FloatingPointError(f"{error} The model is left unfitted.") from None
            self.module_.load_state_dict(weights_before)
            raise FloatingPointError(f"{error} The weights are back to those before this call.") from None
        return self

    def _forget_fit(self):
        """Back to the unfitted state: what a failed first fit must not leave behind."""
        for name in [*vars(self)]:
            if name.endswith("_") and not name.startswith("_") and name not in ("history_", "device_"):
                delattr(self, name)
        self.initialized_ = False

    def _build_augmentation(self):
        """A fresh augmenter for training, so the user's (and a grid search's) stays untouched."""
        if self.augmentation is None:
            return None
        if isinstance(self.augmentation, str) and self.augmentation == "auto":
            return KeypointAugmenter(**AUTO_AUGMENTATION)
        if not isinstance(self.augmentation, KeypointAugmenter):
            raise ValueError(
                f"augmentation must be 'auto', None or a KeypointAugmenter; got {self.augmentation!r}"
            )
        return clone(self.augmentation)

    def _resolve_layout(self):
        try:
            return resolve_layout(self.layout, self.n_outputs_ // 2)
        except ValueError:
            if self.layout is not None:
                raise
            return None  # any keypoint count trains; only flips need a layout

    def predict(self, X):
        """Predict keypoints in pixels.

        The images are checked, converted and predicted in batches of
        ``batch_size_predict``, so memory beyond ``X`` and the result stays that of
        one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, h*w) or (n_samples, h, w)
            Images of the size the model was fitted on.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, 2 * n_keypoints)

        Raises
        ------
        FloatingPointError
            When the network's output holds NaN or infinity (weights damaged, or
            extreme inputs), rather than return it.
        """
        check_is_fitted(self, "n_outputs_")
        self._check_parameters()
        if self.flip_test and (self.layout_ is None or not self.layout_.flip_pairs):
            raise ValueError("flip_test=True needs a layout with left/right flip pairs")
        n_samples = _num_samples(X)
        if n_samples == 0:
            self._validate_X(X, reset=False)  # sklearn's error for an empty X
        network = self._inference_network()
        predictions = np.empty((n_samples, self.n_outputs_))
        for start in range(0, n_samples, self.batch_size_predict):
            rows = _safe_indexing(X, slice(start, start + self.batch_size_predict))
            images = self._to_tensor_images(self._validate_X(rows, reset=False))
            scaled = self._predict_scaled(network, images)
            if self.flip_test:
                mirrored = self._predict_scaled(network, torch.flip(images, dims=[3]))
                scaled = self._merge_mirrored(scaled, mirrored)
            predictions[start : start + len(images)] = self._unscale_targets(scaled).numpy()
        broken = ~np.isfinite(predictions).all(axis=1)
        if broken.any():
            raise FloatingPointError(
                f"the network predicted NaN or infinity for {broken.sum()} of {n_samples} images (the first: "
                f"row {np.flatnonzero(broken)[0]}); its weights or these inputs are not usable"
            )
        return predictions

    def _merge_mirrored(self, scaled, mirrored):
        """Average predictions ``(n, 2k)`` on images and on their mirror images.

        The mirror image's points swap sides through the layout's flip pairs, and its x
        coordinates change sign (x -> -x is the mirror in [-1, 1] coordinates).
        """
        mirrored = mirrored.unflatten(1, (-1, 2))[:, self.layout_.flip_permutation]
        mirrored = mirrored * torch.tensor([-1.0, 1.0], dtype=mirrored.dtype)
        return (scaled + mirrored.flatten(1)) / 2

    def _predict_scaled(self, network, images):
        outputs = []
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(images), self.batch_size_predict):
                batch = images[start : start + self.batch_size_predict].to(self.device_)
                if len(batch) > 1:
                    # channels_last pays for batches; one image is faster without the copy.
                    batch = batch.contiguous(memory_format=torch.channels_last)
                keypoints, _ = network(batch, reconstruct=False)
                outputs.append(keypoints.float().cpu())
        return torch.cat(outputs)

    def _inference_network(self):
        """The network for predict: an eval-mode copy with batch norm folded into the
        convolutions (fewer passes over the feature maps), made again whenever the
        weights change.

        Training, ``load_params`` and ``load_state_dict`` all write the parameters and
        buffers in place, which bumps their version counters, so the cache key sees them.
        """
        tensors = [*self.module_.parameters(), *self.module_.buffers()]
        key = tuple((t.data_ptr(), t._version) for t in tensors)
        cached = _INFERENCE_NETWORKS.get(self.module_)
        if cached is None or cached[0] != key:
            cached = _INFERENCE_NETWORKS[self.module_] = (key, fold_batch_norm(self.module_))
        return cached[1]

    @property
    def batch_size_predict(self):
        # Inference holds no gradients, so larger batches fit and run faster.
        return max(self.batch_size, 256)

    def score(self, X, y, sample_weight=None):
        """R² over the annotated coordinates (:func:`skfkd.metrics.keypoint_r2_score`).

        sklearn's ``r2_score`` rejects NaN targets; this leaves unannotated coordinates
        out instead. For model selection in pixels or NME, pass
        ``scoring=skfkd.metrics.rmse_scorer`` (or ``nme_scorer``).

        Returns
        -------
        score : float
        """
        y = self._validate_y(y, len(np.asarray(X)), require_every_column=False)
        return keypoint_r2_score(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        tags.non_deterministic = self.random_state is None
        return tags
