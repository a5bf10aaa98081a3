"""The half of tests/neural/test_distributed.py that runs inside ``accelerate launch``.

Each process runs this script; the main process writes what the processes saw to
``results.json`` and the trained model to ``model.joblib`` in the folder given as the
first argument, and the test checks them.
"""

import copy
import json
import sys
from pathlib import Path

import joblib
import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit

from skfkd.datasets import make_faces
from skfkd.neural import AcceleratedFacialKeypointRegressor, FacialKeypointRegressor
from skfkd.neural._inference import scale_targets, target_size

SMALL = {
    "module__widths": (8, 16, 16),
    "module__depths": (1, 1, 1),
    "module__decoder_widths": (8,),
    "latent_dim": 16,
    "batch_size": 8,
}
LAST_MODEL = {
    **SMALL,
    "batch_size": 16,
    "max_epochs": 15,
    "lr": 1e-3,
    "augmentation": None,
    "train_split": None,
}


class _RecordBatches(Callback):
    """Keeps the training batches of the first epoch, as this process received them."""

    def on_train_begin(self, net, **kwargs):
        self.batches_ = []

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training and len(net.history) == 1:
            self.batches_.append([tensor.detach().cpu().numpy() for tensor in batch])


def _model(accelerator, **params):
    params = {**SMALL, "max_epochs": 1, "train_split": None, "random_state": 0, **params}
    return AcceleratedFacialKeypointRegressor(accelerator=accelerator, **params)


def _gradient(module):
    return torch.cat([p.grad.flatten() for p in module.parameters() if p.grad is not None])


def gradient_check(accelerator, model, X, y):
    """One step, the processes' parts holding very different numbers of annotated
    coordinates: the averaged gradient against the gradient of the whole step in one process."""
    n = accelerator.num_processes
    images = model._images_for_network(X[: 4 * n]).to(model.device_)
    pixels = torch.as_tensor(y[: 4 * n], dtype=torch.float32).to(model.device_)
    pixels[:4, 2:] = float("nan")  # the first process's part: one annotated keypoint a face
    targets = scale_targets(pixels, target_size(model.image_shape_, model.n_outputs_))
    part = slice(4 * accelerator.process_index, 4 * accelerator.process_index + 4)

    forward = {"reconstruct": True, "heatmaps": bool(model.heatmap_weight)}  # as in training
    whole = copy.deepcopy(model.module_).eval()
    criterion = model.criterion_
    criterion(whole(images, **forward), targets, images).backward()
    expected = _gradient(whole)

    differences = {}
    for name, get_loss in [
        ("weighted", type(model).get_loss),
        ("unweighted", FacialKeypointRegressor.get_loss),
    ]:
        model._wrapped_with_accelerator = False
        model._initialize_accelerator()  # DistributedDataParallel again, as in training
        model.module_.eval()  # batch norm from its running statistics: comparable parts
        model.module_.zero_grad()
        outputs = model.module_(images[part], **forward)
        accelerator.backward(get_loss(model, outputs, pixels[part], X=images[part], training=True))
        got = _gradient(model.module_)
        differences[name] = float((got - expected).abs().max() / expected.abs().max())
        model._unwrap_accelerator()
    return differences


def main(out):
    from accelerate import Accelerator
    from accelerate.utils import gather_object

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    X, y = make_faces(8 * accelerator.num_processes * 4 + 3, image_size=32, random_state=0, return_X_y=True)
    results = {"processes": accelerator.num_processes}

    # Which samples each process trained on in the first epoch (no augmentation: the
    # targets identify the faces).
    recorder = _RecordBatches()
    model = _model(accelerator, augmentation=None, autoencoder_weight=0.5, callbacks=[("record", recorder)])
    model.fit(X, y)
    seen = [targets for _, targets in recorder.batches_]  # batches hold pixel targets
    rows = [[int(np.argmin(np.abs(y - face).sum(axis=1))) for face in batch] for batch in seen]
    results["samples"] = gather_object([rows])
    results["gradient"] = gradient_check(accelerator, model, X, y)
    model = _model(
        accelerator,
        augmentation=None,
        autoencoder_weight=0.5,
        module__head="heatmap",
        module__heatmap_stages=(1, 2),  # the small network's last two stages
        heatmap_weight=1.0,
    )
    results["heatmap_gradient"] = gradient_check(accelerator, model.fit(X, y), X, y)

    # One face repeated: the processes' batches differ only by their augmentation. With
    # a validation split: early stopping reads the history that the processes share.
    same = (
        np.repeat(X[:1], 16 * accelerator.num_processes, axis=0),
        np.repeat(y[:1], 16 * accelerator.num_processes, axis=0),
    )
    first_batches = []
    for _ in range(2):
        recorder = _RecordBatches()
        _model(
            accelerator, train_split=ValidSplit(0.25, random_state=0), callbacks=[("record", recorder)]
        ).fit(*same)
        first_batches.append(recorder.batches_[0][0])
    results["augmented_again_equal"] = bool(np.array_equal(first_batches[0], first_batches[1]))
    images = gather_object([first_batches[0].tolist()])
    results["augmented_batches_equal_across_processes"] = bool(np.array_equal(images[0], images[-1]))

    # A model to load in one process: 8 faces a process and step, as LAST_MODEL's 16 in
    # one process; the log printed once.
    X, y = make_faces(256, image_size=32, random_state=0, return_X_y=True)
    model = _model(accelerator, **{**LAST_MODEL, "batch_size": 16 // accelerator.num_processes}, verbose=1)
    model.fit(X, y)
    results["history_train_loss"] = [float(v) for v in model.history_[:, "train_loss"]]
    if accelerator.is_main_process:
        joblib.dump(model, Path(out) / "model.joblib")
        (Path(out) / "results.json").write_text(json.dumps(results))
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main(sys.argv[1])
