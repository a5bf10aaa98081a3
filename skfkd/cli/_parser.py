"""The command line's arguments: every command, its options and their help, nothing else."""

from __future__ import annotations

import argparse

from skfkd.cli import _commands
from skfkd.cli._inputs import SOURCES

_MODEL_HELP = (
    "model: a .skops file from `skfkd train`, an .onnx file from `skfkd export`, or `pretrained` (the "
    "shipped landmarker); read by its content, never its name"
)
_EPILOG_TRAIN = (
    "Any other --name value pair sets a parameter of the models: FacialKeypointRegressor's (--lr 0.001 "
    "--batch-size 32 --module__latent_dim 64 --augmentation None) or, on sources with photos, "
    "FaceLandmarker's (--crop-size 128 --n-refinements 2). Values are Python literals where they parse as "
    "one. With --init, the landmarker fine-tunes from that model: 10 epochs at lr 2e-4 unless given."
)


def parse(argv=None):
    """The parsed arguments; ``model_params`` holds the ``--name value`` pairs left over
    (train only: model parameters)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.model_params = extra
    return args


def _add_data_options(parser, *, default=None):
    parser.add_argument(
        "--data",
        default=default,
        required=default is None,
        metavar="SOURCE",
        help=f"{', '.join(SOURCES)}, or a path: a folder of photos with .pts files, a dlib .xml file, "
        "a Kaggle .csv/.zip, or the YouTube faces folder",
    )
    parser.add_argument("--path", default=None, help="file or folder of the data (default: under SKFKD_DATA)")
    parser.add_argument(
        "--n-samples", type=int, default=3000, help="number of synthetic faces (default: 3000)"
    )
    parser.add_argument("--random-state", type=int, default=0)


def _add_trust_options(parser):
    parser.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="TYPE",
        help="trust this type (full name, as an error lists it) in a .skops file; repeatable. Only for "
        "types whose code you have read",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="also read pickle (joblib) model files. Loading a pickle runs whatever code it holds: only for "
        "files you made or whose source you trust. skops and ONNX files never need this",
    )


def build_parser():
    from skfkd import __version__

    parser = argparse.ArgumentParser(
        prog="skfkd", description="Facial keypoint detection with the scikit-learn API."
    )
    parser.add_argument("--version", action="version", version=f"skfkd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a model and report its held-out errors",
        usage="skfkd train --data SOURCE --out MODEL.skops [options] [--name value ...]",
        epilog=_EPILOG_TRAIN,
    )
    _add_data_options(train)
    train.add_argument(
        "--out", required=True, help="model file to write: a .skops file, which loads without running code"
    )
    train.add_argument(
        "--init",
        default=None,
        metavar="MODEL",
        help="fine-tune this photo landmarker (a .skops file, or `pretrained`) instead of training from scratch",
    )
    train.add_argument(
        "--keep-partial",
        action="store_true",
        help="on Ctrl-C, still write the model trained so far (the exit status is 130 either way)",
    )
    train.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="CNN training epochs at most (default: the regressor's, 120)",
    )
    train.add_argument("--test-size", type=float, default=0.2, help="held-out share (default: 0.2)")
    _add_trust_options(train)
    train.set_defaults(handler=_commands.train)

    evaluate = commands.add_parser("evaluate", help="print a model's errors on a dataset")
    evaluate.add_argument("model", help=_MODEL_HELP)
    _add_trust_options(evaluate)
    _add_data_options(evaluate)
    evaluate.add_argument(
        "--subset", choices=["training", "test"], default="test", help="YouTube split (default: test)"
    )
    evaluate.set_defaults(handler=_commands.evaluate)

    predict = commands.add_parser(
        "predict",
        help="find the keypoints of the faces in photos",
        usage="skfkd predict [MODEL] PHOTO [PHOTO ...] [options]",
        description="Find the faces in the photos and their keypoints, with MODEL or, without one, with "
        "skfkd's pretrained 68-point landmarker. MODEL is a first argument that is `pretrained` or a file "
        "that is not an image.",
    )
    predict.add_argument(
        "inputs",
        nargs="+",
        metavar="[MODEL] PHOTO",
        help=f"optional {_MODEL_HELP} (trained on photos), then photos",
    )
    _add_trust_options(predict)
    predict.add_argument(
        "--out", default=".", help="folder for the annotated PNGs and keypoint files (default: here)"
    )
    predict.add_argument("--format", choices=["csv", "json", "pts", "xml"], default="csv")
    predict.add_argument(
        "--max-faces", type=int, default=None, help="keep at most this many faces per photo, largest first"
    )
    predict.add_argument(
        "--detector",
        choices=["yunet", "cascade"],
        default=None,
        help="face detector: yunet (a CNN, the default) or cascade (scikit-image's LBP cascade)",
    )
    predict.add_argument(
        "--score-threshold",
        type=float,
        default=None,
        metavar="S",
        help="drop faces the detector scores below S, in [0, 1] (default: the model's, 0.6)",
    )
    predict.set_defaults(handler=_commands.predict)

    export = commands.add_parser(
        "export",
        help="write a model as an ONNX graph and/or a safe .skops file",
        description="Write MODEL as an ONNX graph (for ONNX Runtime, without PyTorch) and/or as a .skops "
        "file, which loads without running code from the file. With both, the .skops file holds the model "
        "predicting with the ONNX graph: for a photo landmarker, the file that `skfkd predict` takes.",
    )
    export.add_argument("model", help=_MODEL_HELP)
    export.add_argument("--onnx", metavar="OUT.onnx", help="ONNX graph to write (of the crop regressor)")
    export.add_argument("--skops", metavar="OUT.skops", help="skops file to write")
    export.add_argument(
        "--input-dtype",
        choices=["float32", "uint8"],
        default="float32",
        help="element type of the ONNX graph's input pixels (default: float32)",
    )
    _add_trust_options(export)
    export.set_defaults(handler=_commands.export)

    demo = commands.add_parser(
        "demo",
        help="landmarks on a photo with the pretrained model, then models trained and compared",
        description="Draw the pretrained landmarker's keypoints on skimage.data.astronaut() into "
        "astronaut_keypoints.png (seconds), then train the mean shape, PCA + ridge and a short CNN run on "
        "synthetic faces (or real ones with --data youtube) and print their held-out errors: about 75 "
        "seconds on a 2-core CPU. --full trains the CNN for its default 120 epochs.",
    )
    demo.add_argument("--data", choices=["synthetic", "youtube", "kaggle"], default="synthetic")
    demo.add_argument(
        "--path", default=None, help="folder or file of the youtube/kaggle data (default: SKFKD_DATA)"
    )
    demo.add_argument("--n-samples", type=int, default=3000, help="number of synthetic faces (default: 3000)")
    demo.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help=f"epochs of the short CNN run (default: {_commands.DEMO_EPOCHS})",
    )
    demo.add_argument(
        "--full", action="store_true", help="train the CNN for the regressor's default 120 epochs"
    )
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument(
        "--no-photo",
        dest="photo",
        action="store_false",
        help="skip annotating skimage.data.astronaut() with the pretrained landmarker",
    )
    demo.add_argument("--out", default=".", help="folder for astronaut_keypoints.png (default: here)")
    demo.set_defaults(handler=_commands.demo)
    return parser
