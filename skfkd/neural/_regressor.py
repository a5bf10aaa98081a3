"""FacialKeypointRegressor: the keypoint autoencoder with the scikit-learn API (skorch).

The estimator's behaviour: what it trains on, how it infers, fit and predict. Its skorch
plumbing is in ``_setup.py``, its data hooks and input checks in ``_data.py``, its
callbacks in ``_callbacks.py``, what predict computes in ``_inference.py``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetRegressor
from skorch.dataset import ValidSplit

from skfkd._layout import KeypointLayout, resolve_layout
from skfkd._params import Interval, Real, StrOptions, non_negative_int, positive_int
from skfkd.augmentation import KeypointAugmenter
from skfkd.metrics import keypoint_r2_score
from skfkd.neural._dask import dask_worker_fit
from skfkd.neural._data import FLOAT32_MAX, MIN_TRAINING_BATCH, DataHooks, ImageRows
from skfkd.neural._inference import (
    inference_network,
    keypoints_of,
    scale_targets,
    target_size,
    unscale_targets,
)
from skfkd.neural._interrupts import interrupts_deferred
from skfkd.neural._loss import KeypointAutoencoderLoss
from skfkd.neural._modules import KeypointAutoencoder
from skfkd.neural._setup import SkorchSetup

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


class FacialKeypointRegressor(SkorchSetup, DataHooks, NeuralNetRegressor):
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
    uint8 or float; the regressor standardises them itself (``standardize``). RGB
    images ``(n, h, w, 3)`` train a network that takes three channels (as rows, they
    need ``image_shape=(h, w, 3)``); the model then predicts on RGB images of that size.

    Parameters
    ----------
    module : torch module class, default=KeypointAutoencoder
        Built with ``image_shape``, ``n_outputs`` and ``latent_dim`` from the data and
        parameters (and ``in_channels=3`` for RGB images), plus any ``module__*``
        parameters. Its ``forward(images,
        reconstruct)`` returns ``(keypoints, reconstruction)``; with ``heatmap_weight``
        it is also passed ``heatmaps=True`` in training and returns the heatmap scores third.
    criterion : torch module class, default=KeypointAutoencoderLoss
        Built with ``autoencoder_weight`` and ``keypoint_loss`` (and ``heatmap_weight``
        when it is not 0), plus any ``criterion__*`` parameters; called as
        ``criterion(outputs, targets, images)``.
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
    heatmap_weight : float, default=0.0
        With the heatmap head (``module__head="heatmap"``), the weight of a regulariser
        that pulls each keypoint's heatmap toward a Gaussian of one cell on the true
        point (the Jensen-Shannon divergence of DSNT, Nibali et al. 2018): the keypoint
        loss alone trains only each map's mean, so a map may spread or split as long as
        its mean lands. 0 leaves it out; any other value needs the heatmap head. With
        ``skfkd.faces.wild_landmarker``'s network on in-the-wild photos (tuning split,
        20 epochs), 1.0 lowered the NME pooled over LFPW, HELEN and AFW from 4.02% to
        3.79% and on YouTube identities from 4.63% to 4.54%.
    standardize : {"image", "dataset"}, default="image"
        "image" scales each image (all its channels together) to zero mean and unit
        variance on its own, so a
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
    flip_test : bool or "shape", default=False
        Also predict on mirrored images and average (flip test-time augmentation),
        swapping left and right through the layout's flip pairs. ``"shape"`` keeps the
        plain prediction's position (the mean of its points) and takes the average's
        shape: for markup that is not mirror-symmetric, whose own left/right offset a
        plain average cancels (the YouTube Faces markup: 2.1% of the inter-ocular
        distance along the eye line). The pretrained landmarker uses ``"shape"``.
    layout : KeypointLayout or None, default=None
        Names the keypoints; None picks the built-in layout of that size, and is only
        needed for ``flip_test`` and augmentation with flips.
    image_shape : (int, int), (int, int, 3) or None, default=None
        Shape of the images when ``X`` is 2-D and not square, or holds RGB images
        (``(h, w, 3)``: each row an image flattened channels last). With ``layout``, it
        also lets ``initialize()`` build the network before any data is seen, for
        skorch's ``load_params``.
    max_epochs : int, default=120
        Training epochs (fewer if early stopping ends sooner; the learning rate
        follows a cosine over ``max_epochs``). 0 builds the network without training
        it, as skorch does, for ``load_params``. On held-out YouTube identities 120
        measured better than 60 (NME 4.16% against 4.32%), with the training still
        improving at the end, so more epochs may still help if you have the time.
    lr : float, default=2e-3
        Peak learning rate of AdamW, annealed to 1% of it over ``max_epochs`` by the
        default callback ``"lr_schedule"`` (a cosine, restarted by every ``fit`` and
        ``partial_fit`` call). A skorch ``LRScheduler`` of your own in ``callbacks``
        replaces it; ``callbacks__lr_schedule=None`` keeps the rate constant.
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
        ``(height, width)`` of the images.
    n_channels_ : int
        1 for gray images, 3 for RGB.
    n_features_in_ : int
        Values per image: ``height * width * n_channels_``.
    n_outputs_ : int
        ``2 * n_keypoints``.
    device_ : str
        The device training ran on.
    augmentation_ : KeypointAugmenter or None
        The fitted copy of ``augmentation`` used in training.

    Notes
    -----
    The regressor follows skorch's hooks: ``get_dataset`` holds the training faces as
    tensors (a skorch ``Dataset`` with ``X`` and ``y``, so ``EpochScoring`` with
    :func:`skfkd.metrics.nme_scorer` scores the validation split in pixels),
    ``get_iterator`` cuts and augments batches on the training device (a last batch of
    one face joins the one before: batch norm needs two), ``infer`` runs the
    batch-norm-folded network (and the flip test) in evaluation, and ``predict`` is
    skorch's ``predict_proba`` scaled back to pixels. ``Checkpoint``, ``LoadInitState``,
    ``warm_start``, ``initialize()`` then ``load_params`` work as skorch documents them;
    ``save_params`` stores the network, not the input statistics of
    ``standardize="dataset"`` (``image``, the default, needs none). Ctrl-C during ``fit``
    ends training at the current batch and returns (skorch's behaviour) with the best
    weights so far when early stopping is on.

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
        "autoencoder_weight": [Interval(Real, 0, FLOAT32_MAX, closed="both")],
        "keypoint_loss": [StrOptions({"l1", "mse", "smooth_l1", "wing"})],
        "heatmap_weight": [Interval(Real, 0, FLOAT32_MAX, closed="both")],
        "standardize": [StrOptions({"image", "dataset"})],
        "augmentation": [StrOptions({"auto"}), KeypointAugmenter, None],
        "flip_test": ["boolean", StrOptions({"shape"})],
        "layout": [KeypointLayout, None],
        "image_shape": [tuple, list, None],
        "criterion": [type, torch.nn.Module],
        "optimizer": [callable],
        "max_epochs": [non_negative_int],
        "lr": [Interval(Real, 0, FLOAT32_MAX, closed="right")],
        "batch_size": [positive_int],
        "weight_decay": [Interval(Real, 0, FLOAT32_MAX, closed="both")],
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
        heatmap_weight=0.0,
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
        self.heatmap_weight = heatmap_weight
        self.standardize = standardize
        self.augmentation = augmentation
        self.flip_test = flip_test
        self.layout = layout
        self.image_shape = image_shape
        self.weight_decay = weight_decay
        self.patience = patience
        self.random_state = random_state

    # -- skorch's data and step hooks ------------------------------------------------

    def infer(self, x, **fit_params):
        """Training: the network's keypoints and reconstruction. Evaluation (validation
        and predict): the batch-norm-folded network's keypoints, with the flip test."""
        x = x.to(self.device_, non_blocking=True)
        with self._autocast():
            if self.module_.training:
                if self.heatmap_weight:  # asked only then, so that a network of one's own need not know it
                    fit_params = {**fit_params, "heatmaps": True}
                return self.module_(x, reconstruct=bool(self.autoencoder_weight), **fit_params)
            # A network wrapped for data-parallel training evaluates as it is.
            plain = not isinstance(self.module_, torch.nn.parallel.DistributedDataParallel)
            network = inference_network(self.module_) if plain else self.module_
            channels_last = len(x) > 1 and not str(self.device_).startswith("cuda")
            # The keypoints alone, which skorch's predict_proba and its caching take as they are.
            flip, keep_position = self._flip_permutation(), self.flip_test == "shape"
            return keypoints_of(network, x, flip, channels_last, keep_position)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not isinstance(y_pred, tuple):  # evaluation gives keypoints without a reconstruction
            y_pred = (y_pred, None)
        size = target_size(self.image_shape_, self.n_outputs_)
        return self.criterion_(y_pred, scale_targets(y_true, size), X)

    def _flip_permutation(self):
        if not self.flip_test:
            return None
        if self.layout_ is None or not self.layout_.flip_pairs:
            raise ValueError(f"flip_test={self.flip_test!r} needs a layout with left/right flip pairs")
        return torch.as_tensor(self.layout_.flip_permutation)

    # -- the sklearn API -------------------------------------------------------------

    def fit(self, X, y, **fit_params):
        """Train the network from scratch (or continue, with ``warm_start=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, h*w), (n_samples, h, w) or (n_samples, h, w, 3)
            Face images, uint8 or float: gray, or RGB.
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
            layout = self._resolve_layout(y.shape[1])
            if self.flip_test and (layout is None or not layout.flip_pairs):  # said before training
                raise ValueError(f"flip_test={self.flip_test!r} needs a layout with left/right flip pairs")
            self.n_outputs_, self.layout_ = y.shape[1], layout
            self.input_mean_ = float(images.mean())
            # A blank training set has no spread; 1 keeps the scaling finite.
            self.input_std_ = float(images.std()) or 1.0
            self._rng = check_random_state(self.random_state)
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} columns but the model was fitted on {self.n_outputs_}")
        if fresh or not hasattr(self, "augmentation_"):
            # A fitted copy, so the user's augmenter (and a grid search's) stays untouched.
            self.augmentation_ = self._build_augmentation()
            if self.augmentation_ is not None:
                if self.layout is not None:
                    self.augmentation_.set_params(layout=self.layout)
                # Its fit checks the image shape and the keypoints; it moves every channel alike.
                self.augmentation_.fit(images if images.ndim == 3 else images[..., 0], y)
        weights_before = None if fresh else copy.deepcopy(self.module_.state_dict())
        try:
            with self._seeded(), dask_worker_fit(self):
                self._generator = torch.Generator().manual_seed(int(self._rng.randint(2**31 - 1)))
                if fresh:
                    self.initialize()
                elif not hasattr(self, "optimizer_"):  # loaded for inference; now it trains
                    with interrupts_deferred():
                        self._initialize_optimizer()
                with self._skorch_sees_resolved_device():
                    super().partial_fit(images, y, **fit_params)
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
        if isinstance(self.augmentation, str):
            return KeypointAugmenter(**AUTO_AUGMENTATION)
        return clone(self.augmentation)

    def _resolve_layout(self, n_outputs):
        try:
            return resolve_layout(self.layout, n_outputs // 2)
        except ValueError:
            if self.layout is not None:
                raise
            return None  # any keypoint count trains; only flips need a layout

    def predict(self, X):
        """Predict keypoints in pixels.

        skorch's ``predict_proba`` (the network's outputs, through ``get_dataset``,
        ``get_iterator`` and ``infer``) scaled back to pixels. The images are checked,
        converted and predicted in batches of ``batch_size_predict``, so memory beyond
        ``X`` and the result stays that of one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, h*w), (n_samples, h, w) or (n_samples, h, w, 3)
            Images of the size and channels the model was fitted on.

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
        self._flip_permutation()  # a flip test without flip pairs says so before any work
        if not isinstance(X, torch.utils.data.Dataset) and len(ImageRows(X)) == 0:
            self._validate_X(X, reset=False)  # sklearn's error for an empty X
        with torch.inference_mode(), self._skorch_sees_resolved_device():
            scaled = torch.from_numpy(self.predict_proba(X))
        predictions = unscale_targets(scaled, target_size(self.image_shape_, self.n_outputs_))
        predictions = predictions.numpy().astype(np.float64)
        broken = ~np.isfinite(predictions).all(axis=1)
        if broken.any():
            raise FloatingPointError(
                f"the network predicted NaN or infinity for {broken.sum()} of {len(predictions)} images (the "
                f"first: row {np.flatnonzero(broken)[0]}); its weights or these inputs are not usable"
            )
        return predictions

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
