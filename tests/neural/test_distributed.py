"""Beyond one process: model selection on a real Dask cluster, data-parallel training under
a real ``accelerate launch``. Every test that starts processes has a hard time limit and
shuts them down."""

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import cloudpickle
import joblib
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from skfkd import FacialKeypointRegressor
from skfkd.baselines import make_pca_ridge
from skfkd.datasets import make_faces
from skfkd.metrics import keypoint_rmse, rmse_scorer
from skfkd.neural import AcceleratedFacialKeypointRegressor
from skfkd.neural._accelerated import shard_bounds
from skfkd.neural._dask import WorkerDiedDuringFit
from skfkd.preprocessing import ImageScaler

distributed = pytest.importorskip(
    "distributed", reason="the distributed extra: pip install skfkd[distributed]"
)

# The workers unpickle this module's callbacks by value: they cannot import a test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SMALL = {
    "module__widths": (8, 16, 16),
    "module__depths": (1, 1, 1),
    "module__decoder_widths": (8,),
    "latent_dim": 16,
    "batch_size": 16,
    "augmentation": None,
    "train_split": None,
    "max_epochs": 2,
    "random_state": 0,
}
JOB = Path(__file__).with_name("accelerate_job.py")
sys.path.insert(0, str(JOB.parent))
from accelerate_job import LAST_MODEL  # noqa: E402


@pytest.fixture(scope="module")
def faces():
    X, y = make_faces(48, image_size=32, random_state=0, return_X_y=True)
    return X, y, np.arange(len(X)) % 4


class _RecordTorchThreads(Callback):
    def on_train_begin(self, net, **kwargs):
        self.threads_ = torch.get_num_threads()


class _ExitWhenLr(Callback):
    """Kills the process that trains the candidate with this learning rate."""

    def __init__(self, lr):
        self.lr = lr

    def on_train_begin(self, net, **kwargs):
        if net.lr == self.lr:
            os._exit(1)


@contextlib.contextmanager
def _two_workers():
    """A client of two worker processes of one thread each, both registered before it is
    handed out (so that what is broadcast reaches both); a worker that dies while running a
    task is allowed once, so the death test below sees Dask retry once. The scheduler's
    active memory manager is off: every few seconds it drops the extra copies of broadcast
    data, and when the copy it keeps is on the worker that dies, the data are lost and the
    search fails on that instead of the death."""
    import dask

    settings = {
        "distributed.scheduler.allowed-failures": 1,
        "distributed.scheduler.active-memory-manager.start": False,
    }
    with dask.config.set(settings):
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.wait_for_workers(2, timeout=60)
            yield client


@pytest.fixture(scope="module")
def client():
    with _two_workers() as client:
        yield client


@pytest.fixture
def fresh_client():
    """A cluster of its own, for a test that kills a worker: whatever the nanny restarts and
    whatever the dead worker held stay out of every other test."""
    with _two_workers() as client:
        yield client


@pytest.fixture
def one_torch_thread():
    """The reference runs in this process with the workers' single torch thread: results
    computed with another thread count may differ in the last bits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.timeout(150)
def test_grid_search_on_dask_equals_n_jobs_1_and_sends_the_arrays_once(
    client, faces, one_torch_thread, monkeypatch
):
    X, y, groups = faces
    grid = {"lr": [1e-3, 3e-3], "autoencoder_weight": [0.0, 0.1]}

    def search():
        model = FacialKeypointRegressor(**SMALL)
        return GridSearchCV(model, grid, cv=GroupKFold(2), scoring=rmse_scorer, error_score="raise")

    scattered = []
    scatter = client.scatter

    def counting_scatter(data, *args, **kwargs):
        scattered.append(data)
        return scatter(data, *args, **kwargs)

    monkeypatch.setattr(client, "scatter", counting_scatter)
    with joblib.parallel_backend("dask"):
        on_dask = search().fit(X, y, groups=groups)
    reference = search().fit(X, y, groups=groups)

    for key in ["params", "rank_test_score"] + [f"split{i}_test_score" for i in range(2)]:
        np.testing.assert_array_equal(on_dask.cv_results_[key], reference.cv_results_[key], err_msg=key)
    assert on_dask.best_params_ == reference.best_params_
    # 8 fits, and X went to the cluster once (joblib scatters an argument once per call;
    # the other worker fetches it from the first).
    assert sum(data is X for data in scattered) == 1


@pytest.mark.timeout(150)
def test_cross_validate_pipelines_beside_a_baseline_on_dask(client, faces, one_torch_thread):
    X, y, groups = faces
    models = {
        "cnn": make_pipeline(
            ImageScaler(), FacialKeypointRegressor(**SMALL, callbacks=[("threads", _RecordTorchThreads())])
        ),
        "pca_ridge": make_pca_ridge(n_components=5, random_state=0),
    }
    for name, model in models.items():
        kwargs = {"groups": groups, "cv": GroupKFold(2), "scoring": rmse_scorer, "return_estimator": True}
        with joblib.parallel_backend("dask"):
            on_dask = cross_validate(model, X, y, **kwargs)
        reference = cross_validate(model, X, y, **kwargs)
        np.testing.assert_array_equal(on_dask["test_score"], reference["test_score"], err_msg=name)
        # The fitted models came back from the workers and predict as they scored there.
        for fitted, reference_fitted in zip(on_dask["estimator"], reference["estimator"]):
            np.testing.assert_allclose(fitted.predict(X[:4]), reference_fitted.predict(X[:4]), rtol=1e-12)


def _threads_during_fits(cross_validation):
    return [dict(pipeline[-1].callbacks_)["threads"].threads_ for pipeline in cross_validation["estimator"]]


@pytest.mark.timeout(150)
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")
def test_each_fit_on_a_worker_uses_one_torch_thread_per_worker_thread(faces):
    """In a worker inside this process, a fit would otherwise inherit this process's torch
    threads (here at least 2): two concurrent fits would use twice the worker's cores."""
    X, y, groups = faces
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # new threads in this process start with 2
    model = make_pipeline(
        ImageScaler(), FacialKeypointRegressor(**SMALL, callbacks=[("threads", _RecordTorchThreads())])
    )
    try:
        with (
            distributed.LocalCluster(
                n_workers=1,
                threads_per_worker=2,
                processes=False,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster),
        ):
            with joblib.parallel_backend("dask"):
                result = cross_validate(model, X, y, groups=groups, cv=GroupKFold(2), return_estimator=True)
    finally:
        torch.set_num_threads(threads)
    assert _threads_during_fits(result) == [1, 1]


@pytest.mark.timeout(150)
def test_fits_on_worker_processes_use_the_workers_thread(client, faces):
    X, y, groups = faces
    model = make_pipeline(
        ImageScaler(), FacialKeypointRegressor(**SMALL, callbacks=[("threads", _RecordTorchThreads())])
    )
    with joblib.parallel_backend("dask"):
        result = cross_validate(model, X, y, groups=groups, cv=GroupKFold(2), return_estimator=True)
    workers_threads = set(client.nthreads().values())
    assert workers_threads == {1} and _threads_during_fits(result) == [1, 1]


@pytest.mark.timeout(150)
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
@pytest.mark.parametrize("error_score", ["raise", np.nan])
def test_a_candidate_that_kills_its_worker_is_named_not_retried_forever(fresh_client, faces, error_score):
    X, y, _ = faces
    model = FacialKeypointRegressor(**SMALL, callbacks=[("exit", _ExitWhenLr(3e-3))])
    one_split = [(np.arange(24), np.arange(24, 48))]  # one task per candidate
    search = GridSearchCV(model, {"lr": [1e-3, 3e-3]}, cv=one_split, error_score=error_score)
    named = r"died 1 time\(s\) while fitting FacialKeypointRegressor\(lr=0\.003, "
    # Broadcast, so that the arrays outlive the worker that dies (joblib's automatic
    # scatter leaves them on one worker).
    with joblib.parallel_backend("dask", scatter=[X, y]):
        if error_score == "raise":
            with pytest.raises(WorkerDiedDuringFit, match=named):
                search.fit(X, y)
        else:
            with pytest.warns(FitFailedWarning, match=named):
                search.fit(X, y)
    if error_score != "raise":
        scores = search.cv_results_["mean_test_score"]
        assert np.isfinite(scores[0]) and np.isnan(scores[1]) and search.best_params_ == {"lr": 1e-3}
    fresh_client.wait_for_workers(2, timeout=60)  # the nanny restarted the dead worker


@given(
    n_samples=st.integers(1, 300),
    global_batch_size=st.integers(1, 64),
    n_processes=st.integers(1, 8),
)
def test_shard_bounds_cover_every_sample_once_with_a_part_for_every_process(
    n_samples, global_batch_size, n_processes
):
    if global_batch_size < n_processes:
        with pytest.raises(ValueError, match="cannot be split"):
            shard_bounds(n_samples, global_batch_size, n_processes)
        return
    if n_samples < n_processes:
        with pytest.raises(ValueError, match="cannot be shared"):
            shard_bounds(n_samples, global_batch_size, n_processes)
        return
    bounds = shard_bounds(n_samples, global_batch_size, n_processes)
    assert bounds[0][0] == 0 and bounds[-1][1] == n_samples
    assert all(stop == start for (_, stop), (start, _) in zip(bounds[:-1], bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert all(size >= n_processes for size in sizes)
    assert all(size == global_batch_size for size in sizes[:-1]) or len(sizes) == 1
    assert sizes[-1] < global_batch_size + n_processes or len(sizes) == 1


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch(script, *args, n_processes, cwd, timeout):
    """``accelerate launch`` of ``n_processes`` CPU processes; kills all of them on timeout."""
    # Accelerate's --cpu launcher forks processes only through MPI; --multi_gpu starts them
    # with torchrun, and the script's Accelerator(cpu=True) makes them gloo processes.
    command = [
        *(sys.executable, "-m", "accelerate.commands.launch"),
        *("--multi_gpu", "--num_processes", str(n_processes), "--num_machines", "1"),
        *("--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port())),
        *(str(script), *map(str, args)),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"accelerate launch ran past {timeout} s:\n{output[-3000:]}")
    assert process.returncode == 0, output[-5000:]
    return output


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    folder = tmp_path_factory.mktemp("accelerate")
    output = _launch(JOB, folder, n_processes=2, cwd=folder, timeout=240)
    return json.loads((folder / "results.json").read_text()), folder / "model.joblib", output


@pytest.mark.timeout(300)
def test_processes_train_on_disjoint_parts_of_every_batch(launched):
    results, _, _ = launched
    assert results["processes"] == 2
    first, second = results["samples"]
    assert len(first) == len(second)  # the same number of steps, or the processes hang
    for part, other in zip(first, second):
        assert abs(len(part) - len(other)) <= 1 and len(part) and len(other)
    seen = sorted(i for batches in (first, second) for batch in batches for i in batch)
    assert seen == list(range(8 * 2 * 4 + 3))  # every training face once an epoch


@pytest.mark.timeout(300)
def test_the_averaged_gradient_is_the_gradient_of_the_whole_batch(launched):
    results, _, _ = launched
    # The processes' parts hold 8 and 120 annotated coordinates: a plain average of the
    # processes' mean losses weighs the first 15 times too much, which the job measures too.
    assert results["gradient"]["weighted"] < 1e-5
    assert results["gradient"]["unweighted"] > 1e-2


@pytest.mark.timeout(300)
def test_the_heatmap_regulariser_is_weighed_by_annotated_points_too(launched):
    results, _, _ = launched
    # DSNT's divergence is a mean over annotated points: weighed by the parts' images, as
    # the reconstruction is, the first part's would count 15 times too much.
    assert results["heatmap_gradient"]["weighted"] < 1e-5
    assert results["heatmap_gradient"]["unweighted"] > 1e-2


@pytest.mark.timeout(300)
def test_each_process_draws_its_own_augmentation_reproducibly(launched):
    results, _, _ = launched
    assert results["augmented_again_equal"]
    assert not results["augmented_batches_equal_across_processes"]


@pytest.mark.timeout(300)
def test_the_saved_model_loads_in_one_process_close_to_a_single_process_model(launched):
    results, path, output = launched
    # One log for the two processes.
    assert output.count("epoch      lr    train_loss     dur") == 1, output[-3000:]
    model = joblib.load(path)
    assert isinstance(model, AcceleratedFacialKeypointRegressor) and model.accelerator is None
    X, y = make_faces(256, image_size=32, random_state=0, return_X_y=True)
    X_test, y_test = make_faces(100, image_size=32, random_state=1, return_X_y=True)
    predicted = model.predict(X_test)
    assert np.isfinite(predicted).all()
    np.testing.assert_allclose(model.history_[:, "train_loss"], results["history_train_loss"])

    single = FacialKeypointRegressor(**LAST_MODEL, random_state=0).fit(X, y)
    mean_face = keypoint_rmse(y_test, np.tile(y.mean(axis=0), (len(y_test), 1)))
    errors = keypoint_rmse(y_test, predicted), keypoint_rmse(y_test, single.predict(X_test))
    assert max(errors) < 0.9 * mean_face, (errors, mean_face)  # both learnt something
    assert 0.8 < errors[0] / errors[1] < 1.25, errors
