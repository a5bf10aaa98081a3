"""Train the pretrained 68-point landmarker that ships in skfkd/_data, and measure it.

The recipe (the "Pretrained landmarker" section of the Photos page):
``skfkd.faces.wild_landmarker(random_state=0)`` (a FaceLandmarker around a
FacialKeypointRegressor with a wider network than the default) trained on the training
parts of all four shared sources (benchmarks/_sources.py: YouTube Faces by identity, LFPW
and HELEN by photo, AFW by photo with the faces of one photo together; 20% of each held
out, seed 0), plus the mirror images of the 300-W sources' faces (LFPW, HELEN, AFW: their
markup is mirror-symmetric, YouTube's is not; ``skfkd.datasets.mirror_faces``), the 300-W
faces and their mirror images twice in every epoch; 40 epochs on 128x128 crops.

On each held-out part, and pooled over the three 300-W sources, it reports NME (outer
inter-ocular), the failure rate at 0.08 and the CED AUC, on crops framed on the true
landmarks (the regressor alone, framed as the landmarker frames faces) and on the faces
its own detector finds (the whole pipeline), beside dlib's regression-tree shape
predictor trained on the same training faces (mirror images included) when ``dlib`` is
importable.

Writes ``skfkd/_data/landmarker_68.skops`` (loaded by ``skfkd.load_pretrained()``), its
model card ``skfkd/_data/landmarker_68.md``, and ``benchmarks/results/pretrained.md`` with
a CED plot beside it.

    python benchmarks/train_pretrained.py           # 1-2 hours on a 2-core CPU (58, 121 min measured)
                                                    # and dlib's training, half an hour (cached)
    python benchmarks/train_pretrained.py --quick   # a sample and 3 epochs; writes under results/ only
    python benchmarks/train_pretrained.py --rescore # no training: the shipped weights with the recipe's
                                                    # prediction options, measured and written back

The training state is written to the benchmark cache after every epoch
(``skfkd.neural.TrainingCheckpoint``): a run that dies, started again, goes on from its last
finished epoch to the weights an uninterrupted run would reach, and the checkpoint is
deleted once the model is written.

``--rescore`` is for a change that does not touch training (how the landmarker predicts, say
``shift_test``): it loads the shipped landmarker, sets the recipe's prediction options on it
(``PREDICTION_OPTIONS`` of ``wild_landmarker()``), measures it as above and writes it, its
card and the report again; the fit time it reports is its epochs' (the regressor's history).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sources import SOURCES, TITLES, split_source  # noqa: E402
from _wild import (  # noqa: E402
    POOLED,
    benchmark_cache,
    figure_tables,
    pooled,
    predictions,
    score_table,
    train_dlib,
    training_set,
    write_report,
)

import skfkd  # noqa: E402
from skfkd.datasets import get_data_home  # noqa: E402
from skfkd.deploy import load_model, save_model  # noqa: E402
from skfkd.faces import wild_landmarker  # noqa: E402
from skfkd.neural import TrainingCheckpoint  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SHIPPED = HERE.parent / "skfkd" / "_data"
# The landmarker's parameters, and its regressor's, that only prediction reads: --rescore takes
# them from the recipe.
PREDICTION_OPTIONS = ("n_refinements", "shift_test", "detector", "score_threshold", "max_faces")
REGRESSOR_PREDICTION_OPTIONS = ("flip_test",)


def checkpoint_path(keypoints, landmarker):
    """The file the training state is kept in between epochs, in the benchmark cache, named
    by the hash of the training landmarks and the recipe: a changed recipe or training set
    starts afresh instead of resuming another's run."""
    recipe = {
        name: value
        for name, value in landmarker.get_params(deep=True).items()
        if not hasattr(value, "get_params")
    }
    digest = hashlib.sha256(
        np.concatenate([np.ravel(face) for face in keypoints]).tobytes()
        + repr(sorted(recipe.items())).encode()
    ).hexdigest()[:20]
    return benchmark_cache() / f"pretrained-training-{digest}.pt"


def model_card(figures, fit_seconds, n_train, n_faces, command, file_size, landmarker, epochs_only=False):
    regressor = landmarker.regressor
    crop_size, epochs, heatmap_weight = landmarker.crop_size, regressor.max_epochs, regressor.heatmap_weight
    lines = [
        "# skfkd pretrained 68-point landmarker",
        "",
        f"- version: skfkd {skfkd.__version__} (model file `landmarker_68.skops`, {file_size / 1e6:.1f} MB)",
        "- what: `skfkd.faces.wild_landmarker()`: a `skfkd.faces.FaceLandmarker` with a "
        "`skfkd.FacialKeypointRegressor` inside (a CNN, stage widths 32-64-128-192-256, whose keypoints "
        "are the means of one heatmap each, `skfkd.neural.HeatmapHead`, moved by a local refinement; its "
        "autoencoder's reconstruction weight is 0, so the decoder is not trained) "
        + (
            f"trained on the `{regressor.keypoint_loss}` keypoint loss plus {heatmap_weight:g} times DSNT's "
            "heatmap regulariser (`heatmap_weight`: the Jensen-Shannon divergence between each map and a "
            "Gaussian on its true point), "
            if heatmap_weight
            else f"trained on the `{regressor.keypoint_loss}` keypoint loss, "
        )
        + "and the YuNet face detector (shipped in `skfkd/_data/yunet`, Apache-2.0) calibrated to the "
        "landmark framing.",
        "- output: the 68 iBUG/dlib points (`skfkd.IBUG_68`), in photo pixels, x = column, y = row, "
        "pixel centres at integers.",
        f"- input framing: {'RGB' if landmarker.colour else 'grayscale'} {crop_size}x{crop_size} crops of a "
        "square turned upright by the eye "
        "line (outer eye corners), holding the landmarks with a margin of 0.1 of their extent on every side "
        "(`skfkd.faces.landmark_frames`, `skfkd.faces.crop_faces`); from photos, the detector's box and "
        "eyes are mapped to that framing, then the face is framed again on the model's own prediction"
        + (
            f", and that last prediction is the mean of five: on the frame and on the frame moved by "
            f"{landmarker.shift_test:g} of its side right, left, down and up (`shift_test`)"
            if landmarker.shift_test
            else ""
        )
        + (
            "; every prediction is also made on the crop's mirror image, the average of the two giving "
            'the points\' shape and the plain prediction their position (`flip_test="shape"`: the YouTube '
            "markup is not mirror-symmetric)."
            if regressor.flip_test == "shape"
            else "; every prediction is the mean of those on the crop and on its mirror image (`flip_test`)."
            if regressor.flip_test
            else "."
        ),
        f"- training data (the recipe): {n_train} training faces, {n_faces} in every epoch: 80% of each "
        "shared source, held out by seed (YouTube Faces by identity: frames prepared for Udacity's P1 Facial "
        "Keypoints project; LFPW, HELEN and AFW by photo, with the 68-point 300-W annotations), plus the "
        "mirror images of the LFPW, HELEN and AFW faces (the 300-W markup is mirror-symmetric; the YouTube "
        "markup is not, so its faces are not mirrored), the 300-W faces and their mirror images twice in "
        f"every epoch. {epochs} epochs (AdamW, cosine schedule), no validation split.",
        "- licences: YouTube Faces (Wolf, Hassner and Maoz, 2011), LFPW (Belhumeur et al., 2011), HELEN "
        "(Le et al., 2012), AFW (Zhu and Ramanan, 2012) and the 300-W annotations (Sagonas et al., 2013) are "
        "for **research and non-commercial use only**; so is this model, which is derived from them.",
        f"- training command: `{command}` (seed 0, {fit_seconds / 60:.0f} min on a 2-core CPU"
        + (", its epochs alone" if epochs_only else "")
        + "); "
        "`make pretrained` runs it.",
        "- limits: frontal to three-quarter faces (the training photos hold few profiles); the YouTube "
        "frames and the 300-W photos were annotated by different people, whose conventions differ "
        "slightly.",
        "",
        "## Held-out figures",
        "",
        "The same recipe trained without the held-out parts, which it never saw. NME: mean point error "
        "over the outer inter-ocular distance; failure: share of faces with NME > 0.08; AUC of the CED "
        "up to 0.08.",
        "",
        *figures,
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a sample and 3 epochs; the shipped model is kept"
    )
    parser.add_argument(
        "--data", default=None, help="folder holding the shared sources (default: SKFKD_DATA)"
    )
    parser.add_argument("--no-dlib", action="store_true", help="skip dlib's shape predictor")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="no training: measure the shipped landmarker with the recipe's prediction options, and write it back",
    )
    options = parser.parse_args(argv)
    if options.rescore and options.quick:
        parser.error("--rescore measures the shipped landmarker on the whole held-out parts; drop --quick")
    data = Path(options.data) if options.data else get_data_home()
    splits = {name: split_source(data, name, options.quick) for name in SOURCES}
    photos, keypoints, X, y = training_set({name: train for name, (train, _) in splits.items()})
    n_train = sum(len(train) for train, _ in splits.values())

    landmarker = wild_landmarker(random_state=0, verbose=1)
    resumed_at = checkpoint_file = None
    if options.rescore:
        recipe = landmarker.get_params(deep=False)
        prediction_options = {name: recipe[name] for name in PREDICTION_OPTIONS}
        regressor_recipe = recipe["regressor"].get_params(deep=False)
        regressor_options = {name: regressor_recipe[name] for name in REGRESSOR_PREDICTION_OPTIONS}
        landmarker = load_model(SHIPPED / "landmarker_68.skops").set_params(**prediction_options)
        # The fitted regressor predicts; its unfitted template is what get_params reports.
        landmarker.regressor.set_params(**regressor_options)
        landmarker.regressor_.set_params(**regressor_options)
        prediction_options.update({f"regressor__{name}": value for name, value in regressor_options.items()})
        fit_seconds = float(sum(landmarker.regressor_.history[:, "dur"]))
        print(
            f"FaceLandmarker: the shipped weights (their {len(landmarker.regressor_.history)} epochs took "
            f"{fit_seconds:.0f} s), with the recipe's prediction options",
            flush=True,
        )
    else:
        if options.quick:
            landmarker.regressor.set_params(max_epochs=3)
        print(f"FaceLandmarker: training on {len(photos)} faces per epoch ({n_train} faces) ...", flush=True)
        # Two hours or more on a 2-core CPU: a run that dies goes on from its last epoch when
        # started again (the same weights at the end as an uninterrupted run's).
        checkpoint_file = checkpoint_path(keypoints, landmarker)
        landmarker.regressor.set_params(callbacks=[("checkpoint", TrainingCheckpoint(checkpoint_file))])
        tic = time.perf_counter()
        landmarker.fit(photos, keypoints)
        fit_seconds = time.perf_counter() - tic
        resumed_at = dict(landmarker.regressor_.callbacks_)["checkpoint"].resumed_at_
        for model in (landmarker.regressor, landmarker.regressor_):  # the file keeps the recipe's
            model.set_params(callbacks=None)
        print(f"  fit in {fit_seconds:.0f} s", flush=True)
        if resumed_at is not None:  # this run's time is part of the fit's: report its epochs'
            fit_seconds = float(sum(landmarker.regressor_.history[:, "dur"]))
            print(
                f"  resumed after epoch {resumed_at}; its epochs took {fit_seconds:.0f} s in all", flush=True
            )

    dlib, dlib_seconds = (None, None) if options.no_dlib else train_dlib(X, y)
    per_source = {
        name: predictions({"skfkd pretrained": landmarker}, dlib, held_out)
        for name, (_, held_out) in splits.items()
    }
    results = {TITLES[name]: score_table(found) for name, found in per_source.items()}
    results[POOLED] = score_table(pooled(per_source))
    for source, rows in results.items():
        print(source, flush=True)
        for (model, framing), r in rows.items():
            nme, failures, auc = f"{r['nme']:.2%}", f"{r['failure']:.1%}", f"{r['auc']:.3f}"
            print(f"  {model}, {framing}: NME {nme}, failures {failures}, AUC {auc} {r['found']}")

    figures = figure_tables(results)
    RESULTS.mkdir(exist_ok=True)
    extra = (
        [
            f"- dlib trained on the same faces, with mirror images, once each ({len(X)} axis-aligned crops) "
            f"in {dlib_seconds:.0f} s"
        ]
        if dlib
        else []
    )
    trained = (
        f"- FaceLandmarker fit on {len(photos)} faces per epoch ({n_train} faces, the 300-W ones and their "
        f"mirror images twice) in {fit_seconds:.0f} s"
    )
    if resumed_at is not None:
        trained += (
            f" (its epochs alone: the training was resumed after epoch {resumed_at} from its checkpoint)"
        )
    if options.rescore:
        trained = (
            f"- FaceLandmarker: the shipped weights, not retrained (`--rescore`: their epochs on {len(photos)} "
            f"faces per epoch took {fit_seconds:.0f} s), with the recipe's prediction options "
            + ", ".join(f"{name}={value!r}" for name, value in prediction_options.items())
        )
    notes = [trained, *extra]
    title = "# Pretrained landmarker" + (" (quick)" if options.quick else "")
    write_report(RESULTS / f"pretrained{'_quick' if options.quick else ''}.md", title, notes, results)
    if not options.quick:
        write_shipped(landmarker, figures, fit_seconds, n_train, len(photos), options, resumed_at)
    if checkpoint_file is not None:  # written and measured: the next run trains afresh
        checkpoint_file.unlink(missing_ok=True)


def write_shipped(landmarker, figures, fit_seconds, n_train, n_faces, options, resumed_at):
    """The model file and its card, in skfkd/_data."""
    SHIPPED.mkdir(exist_ok=True)
    model_path = SHIPPED / "landmarker_68.skops"
    save_model(landmarker, model_path)
    command = "python benchmarks/train_pretrained.py"  # what trained the weights, --rescore or not
    card = model_card(
        figures,
        fit_seconds,
        n_train,
        n_faces,
        command,
        model_path.stat().st_size,
        landmarker,
        epochs_only=options.rescore or resumed_at is not None,
    )
    (SHIPPED / "landmarker_68.md").write_text(card)
    print(
        f"wrote {os.path.relpath(model_path)} ({model_path.stat().st_size / 1e6:.1f} MB) and its model card"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
