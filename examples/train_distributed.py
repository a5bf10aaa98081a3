"""Train one model on several processes or GPUs at once with Hugging Face Accelerate.

Every process runs this same script on its part of each batch; gradients are averaged
across processes after every step. Launch it with::

    accelerate launch --num_processes 4 examples/train_distributed.py   # 4 GPUs
    accelerate launch --multi_gpu --num_processes 2 examples/train_distributed.py  # 2 CPU processes
    torchrun --nproc_per_node 2 examples/train_distributed.py           # the same, with torchrun
    python examples/train_distributed.py                                # one process

On a machine without CUDA the script asks for CPU processes (``Accelerator(cpu=True)``),
which talk over gloo. Accelerate's own ``--cpu`` launcher starts several CPU processes only
through MPI (``--mpirun_hostfile``); ``--multi_gpu`` starts them with torchrun instead, and
works without GPUs. Only the main process prints and writes the model file, which then
loads and predicts in any single process.

``SKFKD_EXAMPLES_QUICK=1`` shrinks everything to a smoke test.
"""

import os

import joblib
import torch
from accelerate import Accelerator
from sklearn.model_selection import train_test_split

from skfkd.datasets import make_faces
from skfkd.metrics import keypoint_rmse
from skfkd.neural import AcceleratedFacialKeypointRegressor

quick = os.environ.get("SKFKD_EXAMPLES_QUICK") == "1"
accelerator = Accelerator(cpu=not torch.cuda.is_available())

X, y = make_faces(160 if quick else 3000, image_size=32 if quick else 96, random_state=0, return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

model = AcceleratedFacialKeypointRegressor(
    accelerator=accelerator,
    # batch_size is per process: with N processes a step sees N * 32 faces.
    batch_size=32,
    max_epochs=2 if quick else 30,
    random_state=0,  # each process derives its own augmentation stream from it
    verbose=0 if quick else 1,  # the main process prints the log
)
model.fit(X_train, y_train)

if accelerator.is_main_process:
    rmse = keypoint_rmse(y_test, model.predict(X_test))
    print(
        f"trained on {accelerator.num_processes} process(es) on {model.device_}: held-out RMSE {rmse:.2f} px"
    )
    joblib.dump(model, "distributed_model.joblib")
    print("saved distributed_model.joblib: joblib.load() it in any single process")
accelerator.wait_for_everyone()
