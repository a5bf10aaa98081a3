"""Levers for the in-the-wild landmarker, measured on a tuning split inside the training parts.

Every source's training part (benchmarks/_sources.py; the held-out parts are never read
here) is split again, 80/20 by the same grouping (identity for YouTube, photo for the
300-W sources), seed 1; each lever trains a FaceLandmarker on the 80% and reports the NME
(outer inter-ocular) of its regressor on the other 20%, framed on the true landmarks as
the landmarker frames them, per source and pooled over LFPW, HELEN and AFW.

    python benchmarks/wild_levers.py --epochs 30 baseline mirror size128 ...
    python benchmarks/wild_levers.py --epochs 20 --seed 1 recipe128_heatmap_sigma_half

Appends one row per lever to benchmarks/results/wild_levers.md, and keeps each lever's
fitted landmarker in the benchmark cache (``levers/<lever>-<epochs>-epochs.skops``, with
``-seed<n>`` before the suffix for a seed other than 0; outside the repository) so that
options of prediction can be measured on it later without training. ``--seed`` seeds the
landmarker and its regressor (weights, batches, augmentation, framing jitter); the tuning
split stays the same: the same lever under two seeds tells how far one seed's row is noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment_lines, markdown_table  # noqa: E402
from _sources import IN_THE_WILD, SOURCES, split_source  # noqa: E402
from _wild import benchmark_cache, framed_on_the_landmarks, photo_training_set  # noqa: E402

from skfkd import FacialKeypointRegressor, to_targets  # noqa: E402
from skfkd.augmentation import KeypointAugmenter  # noqa: E402
from skfkd.cli._commands import FINE_TUNING  # noqa: E402
from skfkd.datasets import get_data_home  # noqa: E402
from skfkd.deploy import save_model  # noqa: E402
from skfkd.faces import FaceLandmarker, wild_landmarker  # noqa: E402
from skfkd.metrics import failure_rate, normalized_mean_error  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# The recipe's network and head, read from the recipe itself so that the levers measure what
# ships; WIDE is the same network with the dense head, as the earlier levers measured it.
RECIPE = {
    name: wild_landmarker().regressor.get_params()[name]
    for name in ("module__widths", "module__depths", "module__head")
}
WIDE = {**RECIPE, "module__head": "dense"}
# Each lever: the sources trained on, whether the 300-W faces' mirror images join them, the
# crop size, the augmentation, repeats of the 300-W faces, regressor parameters, the
# landmarker's framing parameters, and whether a fine-tuning on the 300-W faces alone (10
# epochs at a tenth of the rate, as `skfkd train --init` does) follows.
BASE = {
    "sources": SOURCES,
    "mirror": True,
    "size": 96,
    "augmentation": "auto",
    "repeats": 1,
    "extra": {},
    "framing": {},
    "finetune": False,
}
# The three that helped the recipe (128x128 crops, the 300-W faces twice, no validation
# split) together: wild_landmarker() on _wild.photo_training_set as it shipped until the recipe
# took DSNT's regulariser too (recipe128_heatmap_divergence, the recipe since).
COMBINATION = {**BASE, "size": 128, "repeats": 2, "extra": {**RECIPE, "train_split": None}}
# The combination with DSNT's regulariser pulling each heatmap toward a Gaussian of one cell on
# its point: the recipe since.
REGULARISED = {**COMBINATION, "extra": {**COMBINATION["extra"], "heatmap_weight": 1.0}}
# Its Gaussians half as wide: one cell is 4 px of a 128 px crop, so a sharper target asks for
# precision (a wider one, recipe128_heatmap_sigma2, tolerates ambiguous points).
SIGMA_HALF = {**REGULARISED, "extra": {**REGULARISED["extra"], "criterion__heatmap_sigma": 0.5}}
# The recipe on RGB crops (FaceLandmarker's colour): the shipped recipe since.
COLOUR = {**REGULARISED, "framing": {"colour": True}}
LEVERS = {
    "baseline": {**BASE, "mirror": False},
    "mirror": BASE,
    "size128": {**BASE, "size": 128},
    "wild_only": {**BASE, "sources": IN_THE_WILD},
    "strong_aug": {**BASE, "augmentation": "strong"},
    "weight_wild": {**BASE, "repeats": 2},
    "wide": {**BASE, "extra": WIDE},
    "no_split": {**BASE, "extra": {"train_split": None}},
    "wide_strong_aug": {**BASE, "augmentation": "strong", "extra": WIDE},
    "wide_finetune": {**BASE, "extra": WIDE, "finetune": True},
    "wide_heatmap": {**BASE, "extra": RECIPE},
    "heatmap128": {**BASE, "size": 128, "extra": RECIPE},
    "heatmap_wing": {**BASE, "extra": {**RECIPE, "keypoint_loss": "wing"}},
    "recipe_no_split": {**BASE, "extra": {**RECIPE, "train_split": None}},
    "recipe_weight_wild": {**BASE, "repeats": 2, "extra": RECIPE},
    "recipe128_weight_wild_no_split": COMBINATION,
    # The combination at 160x160 (40x40 heatmaps): whether a larger crop still gains.
    "recipe160_weight_wild_no_split": {**COMBINATION, "size": 160},
    "recipe128_heatmap_divergence": REGULARISED,
    # The regulariser weighing twice as much: whether 1.0 is where it levels off.
    "recipe128_heatmap_weight2": {**REGULARISED, "extra": {**REGULARISED["extra"], "heatmap_weight": 2.0}},
    "recipe128_heatmap_sigma_half": SIGMA_HALF,
    "recipe128_heatmap_sigma2": {
        **REGULARISED,
        "extra": {**REGULARISED["extra"], "criterion__heatmap_sigma": 2.0},
    },
    # Training frames without their random shift, scale and turn (FaceLandmarker's box_jitter
    # and angle_jitter, drawn once per fit), the augmentation's per-batch ones alone: after
    # the first pass the landmarker predicts on frames near the landmarks' own, while the two
    # together move a training face by up to 15% of its side and turn it by up to 25 degrees.
    "recipe128_heatmap_sigma_half_no_jitter": {
        **SIGMA_HALF,
        "framing": {"box_jitter": 0.0, "angle_jitter": 0.0},
    },
    # The recipe on RGB crops (FaceLandmarker's colour) instead of grayscale ones; and with
    # the narrower Gaussians too, whether the two gains add up.
    "recipe128_heatmap_divergence_colour": COLOUR,
    "recipe128_heatmap_sigma_half_colour": {**SIGMA_HALF, "framing": {"colour": True}},
    # The local refinement also reading the first stage's features (64x64 of a 128 px crop,
    # where the heatmaps have 32x32 cells): finer detail where each point landed, for 1.17
    # times the time per batch (measured apart).
    "recipe128_colour_refine_stage0": {
        **COLOUR,
        "extra": {**COLOUR["extra"], "module__refine_stages": (0, 1, 2)},
    },
}
STRONG = {
    "rotation": 25.0,
    "scale": (0.85, 1.15),
    "shift": 0.08,
    "flip": 0.0,
    "brightness": 0.0,
    "contrast": 0.0,
    "noise": 0.0,
    "occlusion": 0.0,
}


def tuning_split(part, name):
    groups = part.photo_ids if name != "youtube" else np.array([i.rsplit("_", 1)[0] for i in part.photo_ids])
    train, valid = next(
        GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=1).split(part.X, groups=groups)
    )
    return part.take(train), part.take(valid)


def lever_training_set(splits, settings, sources):
    """The tuning-train faces of ``sources`` as one lever trains on them."""
    parts = {name: splits[name][0] for name in sources}
    return photo_training_set(parts, repeats=settings["repeats"], mirror=settings["mirror"])


# The columns of tuning_scores, in its order.
SCORE_COLUMNS = ["YouTube", "LFPW", "HELEN", "AFW", "300-W pooled", "300-W failures"]


def tuning_scores(truth, predicted):
    """The table cells, by SCORE_COLUMNS, from each source's true and predicted targets (dicts
    by source name): the NME of every source, then the NME and failure rate pooled over the
    300-W ones."""
    wild_truth = np.concatenate([truth[name] for name in IN_THE_WILD])
    wild_predicted = np.concatenate([predicted[name] for name in IN_THE_WILD])
    cells = [
        *(f"{normalized_mean_error(truth[name], predicted[name]):.2%}" for name in SOURCES),
        f"{normalized_mean_error(wild_truth, wild_predicted):.2%}",
        f"{failure_rate(wild_truth, wild_predicted):.1%}",
    ]
    return dict(zip(SCORE_COLUMNS, cells))


def framed(landmarker, part):
    """The landmarker's keypoints of ``part`` on crops framed on the true ones, as targets."""
    return framed_on_the_landmarks(landmarker, part.photos, part.keypoints)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("levers", nargs="+", choices=sorted(LEVERS))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0, help="random_state of the landmarker and regressor")
    parser.add_argument("--data", default=None)
    options = parser.parse_args(argv)
    data = Path(options.data) if options.data else get_data_home()
    splits = {name: tuning_split(split_source(data, name)[0], name) for name in SOURCES}
    out = RESULTS / "wild_levers.md"
    if not out.exists():
        out.write_text(
            "# Levers for the in-the-wild landmarker (tuning split inside the training parts)\n\n"
            + "\n".join(environment_lines())
            + "\n\n"
            + "\n".join(
                markdown_table(
                    [
                        "lever",
                        "epochs",
                        "train faces",
                        *SCORE_COLUMNS,
                        "300-W pooled, flip test",
                        "YouTube, flip test",
                        "fit (s)",
                    ],
                    [],
                )
            )
            + "\n"
        )
    for lever in options.levers:
        settings = LEVERS[lever]
        photos, keypoints = lever_training_set(splits, settings, settings["sources"])
        aug = KeypointAugmenter(**STRONG) if settings["augmentation"] == "strong" else "auto"
        regressor = FacialKeypointRegressor(
            max_epochs=options.epochs,
            augmentation=aug,
            random_state=options.seed,
            verbose=1,
            **settings["extra"],
        )
        landmarker = FaceLandmarker(
            regressor,
            crop_size=settings["size"],
            n_calibration=0,
            random_state=options.seed,
            **settings["framing"],
        )
        print(f"{lever}: training on {len(photos)} faces ...", flush=True)
        tic = time.perf_counter()
        landmarker.fit(photos, keypoints)
        if settings["finetune"]:
            wild_photos, wild_keypoints = lever_training_set(splits, settings, IN_THE_WILD)
            print(f"{lever}: fine-tuning on {len(wild_photos)} 300-W faces ...", flush=True)
            landmarker.regressor_.set_params(**FINE_TUNING)
            landmarker.partial_fit(wild_photos, wild_keypoints)
        seconds = time.perf_counter() - tic
        seeded = f"-seed{options.seed}" if options.seed else ""
        kept = benchmark_cache() / "levers" / f"{lever}-{options.epochs}-epochs{seeded}.skops"
        kept.parent.mkdir(parents=True, exist_ok=True)
        save_model(landmarker, kept)
        print(f"{lever}: fitted landmarker kept in {kept}", flush=True)
        truth = {name: to_targets(splits[name][1].keypoints) for name in SOURCES}
        cells = tuning_scores(truth, {name: framed(landmarker, splits[name][1]) for name in SOURCES})
        # The flip test (mirror images averaged) is meant for the mirror-symmetric 300-W
        # markup; YouTube's is scored apart, as a landmarker cannot tell the sources apart.
        landmarker.regressor_.set_params(flip_test=True)
        flipped = tuning_scores(truth, {name: framed(landmarker, splits[name][1]) for name in SOURCES})
        landmarker.regressor_.set_params(flip_test=False)
        row = [
            f"{lever} (seed {options.seed})" if options.seed else lever,
            options.epochs,
            len(photos),
            *cells.values(),
            flipped["300-W pooled"],
            flipped["YouTube"],
            f"{seconds:.0f}",
        ]
        print(" | ".join(str(cell) for cell in row), flush=True)
        with out.open("a") as handle:
            handle.write("| " + " | ".join(str(cell) for cell in row) + " |\n")


if __name__ == "__main__":
    main()
