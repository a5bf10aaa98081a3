"""The ``skfkd`` command line (also ``python -m skfkd``).

Exit status: 0 on success, 1 when the work fails, 2 for bad arguments or input files,
3 when a photo holds no face that could be found, 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["main"]

EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_NO_FACE, EXIT_INTERRUPTED = 1, 2, 3, 130
SOURCES = ("synthetic", "youtube", "kaggle", "pts", "xml")


class _BadInput(ValueError):
    """Input the user must fix; reported in one line with exit status 2."""


# --------------------------------------------------------------------------- data


@dataclass
class _Dataset:
    """Faces from one source: crops always, photos when the source has them."""

    name: str
    X: np.ndarray  # crops (n, size**2)
    y: np.ndarray  # crop keypoints (n, 2k)
    groups: np.ndarray  # faces of one person or one photo share a group
    photos: np.ndarray | None = None  # object array of photos, one per face
    keypoints: np.ndarray | None = None  # photo keypoints (n, k, 2)


def _resolve_source(args):
    """The source kind and path from ``--data`` (a kind or a path) and ``--path``."""
    data, path = args.data, args.path
    if data in SOURCES:
        if data == "synthetic":
            return data, None
        if path is None:
            from skfkd.datasets import get_data_home

            if data in ("pts", "xml"):
                raise _BadInput(f"--data {data} needs --path (a folder of .pts files or an .xml file)")
            path = (
                get_data_home() / {"youtube": "youtube_faces_68", "kaggle": "kaggle_facial_keypoints"}[data]
            )
        return data, Path(path)
    path = Path(data)
    if path.is_dir():
        kind = "youtube" if any(path.glob("*_frames_keypoints.csv")) else "pts"
        return kind, path
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".xml":
            return "xml", path
        if suffix in (".csv", ".zip"):
            return "kaggle", path
        raise _BadInput(f"--data {data}: expected a folder, an .xml, .csv or .zip file")
    raise _BadInput(f"--data {data!r} is neither one of {', '.join(SOURCES)} nor an existing file or folder")


def _load_dataset(args, crop_size=96, crop_margin=None) -> _Dataset:
    from skfkd._framing import DEFAULT_CROP_MARGIN
    from skfkd.datasets import (
        load_dlib_xml,
        load_kaggle_facial_keypoints,
        load_landmark_folder,
        load_youtube_faces,
        make_faces,
    )

    kind, path = _resolve_source(args)
    framing = {
        "crop_size": crop_size,
        "crop_margin": DEFAULT_CROP_MARGIN if crop_margin is None else crop_margin,
    }
    if kind == "synthetic":
        X, y = make_faces(args.n_samples, random_state=args.random_state, return_X_y=True)
        return _Dataset("synthetic", X, y, np.arange(len(X)))
    if kind == "kaggle":
        faces = load_kaggle_facial_keypoints(path)
        return _Dataset(f"Kaggle ({path.name})", faces.data, faces.target, np.arange(len(faces.data)))
    if kind == "youtube":
        faces = load_youtube_faces(path, subset=getattr(args, "subset", "training"), **framing)
        groups = faces.identities  # frames of one person are near-duplicates: keep them together
    elif kind == "pts":
        faces = load_landmark_folder(path, **framing)
        groups = faces.filenames
    else:
        faces = load_dlib_xml(path, **framing)
        groups = faces.filenames  # faces of one photo stay together
    return _Dataset(f"{kind} ({path.name})", faces.data, faces.target, groups, faces.images, faces.keypoints)


def _split(dataset, test_size, random_state):
    from sklearn.model_selection import GroupShuffleSplit

    split = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=random_state)
    train, test = next(split.split(dataset.X, dataset.y, dataset.groups))

    def part(rows):
        photos = None if dataset.photos is None else dataset.photos[rows]
        keypoints = None if dataset.keypoints is None else dataset.keypoints[rows]
        return _Dataset(
            dataset.name, dataset.X[rows], dataset.y[rows], dataset.groups[rows], photos, keypoints
        )

    return part(train), part(test)


# --------------------------------------------------------------------------- models


def _load_model(path, trusted=(), trust_pickle=False):
    """A model from a file, by what its bytes are (never by its name): a skops file (its
    types and parameters checked first), an ONNX graph, or, only with ``trust_pickle``, a
    pickle; or the pretrained landmarker for the word ``pretrained``."""
    if str(path) == "pretrained":
        return _load_pretrained()
    path = Path(path)
    if path.is_dir():
        raise _BadInput(f"{path} is a folder; expected a model file written by `skfkd train --out`")
    if not path.is_file():
        raise _BadInput(f"the model file {path} does not exist")
    kind = _model_file_kind(path)
    if kind in ("skops", "onnx"):
        try:
            from skfkd.deploy import OnnxKeypointRegressor, load_model

            if kind == "skops":
                model = load_model(path, trusted=trusted)
            else:
                model = OnnxKeypointRegressor(path)
                model.n_outputs_  # noqa: B018 (reads and checks the graph now, not at the first face)
        except (ImportError, ValueError) as error:
            raise _BadInput(str(error)) from None
    elif not trust_pickle:
        raise _BadInput(
            f"{path} is neither a skops nor an ONNX model file. If it is a pickle (joblib) file, loading it "
            "runs whatever code it holds: skfkd reads pickles only with --trust-pickle, for files you made or "
            f"whose source you trust (convert one for good: skfkd export {path} --trust-pickle --skops OUT.skops)"
        )
    else:
        import joblib

        try:
            model = joblib.load(path)
        except Exception as error:  # noqa: BLE001 (unpickling can fail in many ways; all mean a bad file)
            raise _BadInput(
                f"{path} is not a model file skfkd can read ({type(error).__name__}: {error})"
            ) from None
    if not hasattr(model, "predict"):
        raise _BadInput(f"{path} holds a {type(model).__name__}, not a fitted model")
    return model


def _model_file_kind(path):
    """ "skops" (a zip archive), "onnx" (an ONNX protobuf, whose first field is the IR
    version), or "other" (perhaps a pickle), from the file's first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise _BadInput(f"{path} is empty; expected a model file written by `skfkd train` or `skfkd export`")
    if head == b"PK\x03\x04":
        return "skops"
    if head[0] == 0x08:
        return "onnx"
    return "other"


def _n_model_keypoints(model):
    from skfkd.faces import FaceLandmarker

    if isinstance(model, FaceLandmarker):
        return model.n_keypoints_
    n_outputs = getattr(model, "n_outputs_", None) or getattr(
        getattr(model, "module_", None), "n_outputs", None
    )
    return None if n_outputs is None else int(n_outputs) // 2


def _check_model_fits_data(model, dataset, path):
    n_model = _n_model_keypoints(model)
    n_data = dataset.y.shape[1] // 2
    if n_model is not None and n_model != n_data:
        raise _BadInput(f"the model in {path} predicts {n_model} keypoints but the data have {n_data}")


# --------------------------------------------------------------------------- evaluation


def _error_row(label, y_true, y_pred, n_total=None):
    from skfkd.metrics import failure_rate, keypoint_rmse, normalized_mean_error

    return {
        "how": label,
        "faces": len(y_true) if n_total is None else f"{len(y_true)}/{n_total}",
        "RMSE (px)": f"{keypoint_rmse(y_true, y_pred):.2f}",
        "NME": f"{normalized_mean_error(y_true, y_pred):.2%}",
        "failures": f"{failure_rate(y_true, y_pred):.1%}",
    }


def _evaluate(model, dataset):
    """Metric rows: on crops framed on the landmarks and, for photos, on detected faces."""
    from skfkd._layout import to_targets
    from skfkd.faces import FaceLandmarker, match_faces

    regressor = model.regressor_ if isinstance(model, FaceLandmarker) else model
    rows = [_error_row("crops framed on the landmarks", dataset.y, regressor.predict(dataset.X))]
    if isinstance(model, FaceLandmarker) and dataset.photos is not None:
        found = match_faces(model.predict(list(dataset.photos)), dataset.keypoints)
        detected = ~np.isnan(found).all(axis=(1, 2))
        if detected.any():
            rows.append(
                _error_row(
                    "faces found by the detector (photo px)",
                    to_targets(dataset.keypoints[detected]),
                    to_targets(found[detected]),
                    n_total=len(detected),
                )
            )
    return rows


def _print_table(rows, title):
    print(f"\n{title}")
    widths = {key: max(len(key), *(len(str(row[key])) for row in rows)) for key in rows[0]}
    print("  ".join(key.ljust(widths[key]) for key in rows[0]))
    for row in rows:
        print("  ".join(str(row[key]).ljust(widths[key]) for key in row))


# --------------------------------------------------------------------------- commands


def _write_model(model, out):
    """Write ``model`` as a skops file, atomically: an interrupted write leaves no file."""
    from skfkd.deploy import save_model

    out.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    os.close(handle)
    try:
        save_model(model, partial)
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


@contextlib.contextmanager
def _interrupts_noted():
    """Note a Ctrl-C, which still interrupts: skorch ends training on one and returns as
    if training had finished, so the command must ask whether it came."""
    noted = {"interrupted": False}

    def note(number, frame):
        noted["interrupted"] = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def _train(args):
    from skfkd.faces import FaceLandmarker
    from skfkd.neural import FacialKeypointRegressor

    out = Path(args.out)
    if out.is_dir():
        raise _BadInput(f"--out {out} is a folder; give a file name such as model.skops")
    if out.suffix.lower() != ".skops":
        raise _BadInput(
            f"--out {out}: skfkd writes skops files, which load without running code; name it *.skops"
        )
    print("Loading the faces ...", flush=True)
    dataset = _load_dataset(args)
    train, test = _split(dataset, args.test_size, args.random_state)
    print(f"  {len(train.X)} training and {len(test.X)} held-out faces from {dataset.name}", flush=True)
    epochs = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    regressor = FacialKeypointRegressor(random_state=args.random_state, verbose=1, **epochs)
    started = time.perf_counter()
    with _interrupts_noted() as noted:
        if train.photos is not None:
            model = FaceLandmarker(regressor, random_state=args.random_state, verbose=1)
            model.fit(list(train.photos), train.keypoints)
        else:
            model = regressor.fit(train.X, train.y)
    if noted["interrupted"]:
        if not args.keep_partial:
            print(
                "skfkd: interrupted; no model written (--keep-partial writes what was trained)",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        _write_model(model, out)
        print(f"skfkd: interrupted; wrote the partly trained model to {out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"Trained in {time.perf_counter() - started:.0f} s", flush=True)
    _write_model(model, out)
    print(f"Wrote {out}")
    _print_table(_evaluate(model, test), f"Held-out errors on {len(test.X)} faces (lower is better)")
    return 0


def _evaluate_command(args):
    from skfkd.faces import FaceLandmarker

    model = _load_model(args.model, args.trust, args.trust_pickle)
    framing = {}
    if isinstance(model, FaceLandmarker):
        framing = {"crop_size": model.crop_size, "crop_margin": model.crop_margin}
    dataset = _load_dataset(args, **framing)
    _check_model_fits_data(model, dataset, args.model)
    _print_table(
        _evaluate(model, dataset), f"Errors on {len(dataset.X)} faces of {dataset.name} (lower is better)"
    )
    return 0


def _predict(args):
    from skfkd._images import read_photo
    from skfkd.faces import FaceLandmarker

    model_path, names = _model_and_photos(args.inputs)
    model = (
        _load_pretrained() if model_path is None else _load_model(model_path, args.trust, args.trust_pickle)
    )
    if not isinstance(model, FaceLandmarker):
        raise _BadInput(
            f"{model_path} holds a model for face crops ({type(model).__name__}); train on photos "
            "(skfkd train --data youtube, a .pts folder or an .xml file) to predict on photos, or, for "
            "ONNX Runtime, export such a model with `skfkd export MODEL --onnx OUT.onnx --skops OUT.skops` "
            "and predict with OUT.skops"
        )
    photos = [read_photo(name) for name in names]  # EXIF orientation applied
    out = _output_folder(args.out)
    options = {
        "max_faces": args.max_faces,
        "detector": args.detector,
        "score_threshold": args.score_threshold,
    }
    model.set_params(**{name: value for name, value in options.items() if value is not None})
    found = model.predict_faces(photos)
    without_face = [name for name, faces in zip(names, found) if len(faces.keypoints) == 0]
    _write_predictions(args.format, names, photos, found, model, out)
    for name, faces in zip(names, found):
        n_faces = len(faces.keypoints)
        print(f"{name}: {n_faces} face{'s' if n_faces != 1 else ''}")
    if without_face:
        print(f"skfkd: no face found in {', '.join(without_face)}", file=sys.stderr)
        return EXIT_NO_FACE
    return 0


# Names that say "a model" when the file is not there to read: a missing model file or a
# folder given as one is reported as such. An existing file is judged by its bytes.
MODEL_SUFFIXES = (".skops", ".onnx", ".joblib", ".pkl", ".pickle")


def _model_and_photos(inputs):
    """``(model path or None, photo paths)`` from predict's ``[MODEL] PHOTO...`` arguments:
    the first is the model when it is the word ``pretrained``, a file whose bytes are
    not an image, or a missing file or folder with a model's suffix."""
    first, *rest = inputs
    path = Path(first)
    if path.is_file():
        is_model = not _is_image_file(path)
    else:
        is_model = first == "pretrained" or path.suffix.lower() in MODEL_SUFFIXES
    if not is_model:
        return None, inputs
    if not rest:
        raise _BadInput(f"{first} is a model; give the photos to predict on after it")
    return first, rest


def _is_image_file(path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):  # reads the header only
            return True
    except Image.DecompressionBombError:
        return True  # an image, too large to read: reading it says so
    except (UnidentifiedImageError, OSError):
        return False


def _load_pretrained():
    from skfkd.faces import load_pretrained

    try:
        return load_pretrained()
    except (FileNotFoundError, ValueError) as error:
        raise _BadInput(str(error)) from None


def _output_folder(name):
    out = Path(name)
    if out.exists() and not out.is_dir():
        raise _BadInput(f"--out {out} is a file; expected a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_predictions(file_format, names, photos, found, model, out):
    """The annotated photos, and the faces (keypoints, boxes, scores) in ``file_format``."""
    from skfkd._layout import resolve_layout
    from skfkd.datasets import save_dlib_xml, save_landmark_folder

    layout = resolve_layout(None, model.n_keypoints_) if model.n_keypoints_ in (15, 68) else None
    stems = [Path(name).stem for name in names]
    if len(set(stems)) != len(stems):
        raise _BadInput("two photos share a file name; their outputs would overwrite each other")
    for stem, photo, faces in zip(stems, photos, found):
        _draw(photo, faces.keypoints, layout, out / f"{stem}_keypoints.png")
        if file_format == "csv":
            lines = ["face,score,box_left,box_top,box_width,box_height,keypoint,name,x,y"]
            for f, (face, box, score) in enumerate(zip(*faces)):
                head = f"{f},{score:.4f}," + ",".join(f"{v:.2f}" for v in box)
                for k, (x, y) in enumerate(face):
                    name = layout.keypoint_names[k] if layout else str(k)
                    lines.append(f"{head},{k},{name},{x:.3f},{y:.3f}")
            (out / f"{stem}.csv").write_text("\n".join(lines) + "\n")
        elif file_format == "json":
            record = {
                "photo": stem,
                "faces": [
                    {
                        "score": round(float(score), 4),
                        "box": box.round(2).tolist(),
                        "keypoints": face.round(3).tolist(),
                    }
                    for face, box, score in zip(*faces)
                ],
            }
            (out / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    rows = [
        (stem, photo, face, box)
        for stem, photo, faces in zip(stems, photos, found)
        for face, box in zip(faces.keypoints, faces.boxes)
    ]
    if file_format in ("pts", "xml") and rows:
        images = [row[1] for row in rows]
        keypoints = np.stack([row[2] for row in rows])
        if file_format == "pts":
            # One .pts per face: a photo with several faces is written once per face.
            names = [
                f"{stem}.png" if len(faces.keypoints) == 1 else f"{stem}_{number}.png"
                for stem, faces in zip(stems, found)
                for number in range(1, len(faces.keypoints) + 1)
            ]
            save_landmark_folder(images, keypoints, out / "pts", filenames=names, overwrite=True)
        else:
            save_dlib_xml(
                images,
                keypoints,
                out / "predictions.xml",
                filenames=[f"{row[0]}.png" for row in rows],
                boxes=np.stack([row[3] for row in rows]),
                overwrite=True,
            )


def _draw(photo, faces, layout, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise _BadInput("drawing the keypoints needs matplotlib: pip install skfkd[plot]") from None
    from skfkd.plotting import plot_keypoints

    height, width = photo.shape[:2]
    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.imshow(photo, cmap="gray" if photo.ndim == 2 else None)
    size = max(2.0, min(height, width) / 150)
    for face in faces:
        plot_keypoints(None, face, layout=layout, ax=ax, s=size**2, linewidths=0)
    ax.set_xlim(-0.5, width - 0.5)  # the view is the photo, whatever the faces drawn
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_axis_off()
    figure.savefig(path, dpi=100)


def _export(args):
    from skfkd.deploy import OnnxKeypointRegressor, export_onnx, save_model

    if args.onnx is None and args.skops is None:
        raise _BadInput("say what to write: --onnx OUT.onnx, --skops OUT.skops, or both")
    for option, name in (("--onnx", args.onnx), ("--skops", args.skops)):
        if name is not None and Path(name).is_dir():
            raise _BadInput(f"{option} {name} is a folder; give a file name")
    model = _load_model(args.model, args.trust, args.trust_pickle)
    if args.onnx is not None:
        if isinstance(model, OnnxKeypointRegressor):
            raise _BadInput(f"{args.model} is an ONNX model already")
        Path(args.onnx).parent.mkdir(parents=True, exist_ok=True)
        model = export_onnx(model, args.onnx, input_dtype=args.input_dtype)
        graph = getattr(model, "regressor_", model)
        print(
            f"Wrote {args.onnx}: images (n, {graph.n_features_in_}) {args.input_dtype} -> "
            f"keypoints (n, {graph.n_outputs_}) in pixels"
        )
        if graph is not model and args.skops is None:
            print("  It predicts on face crops; add --skops OUT.skops for the photo landmarker that uses it")
    if args.skops is not None:
        Path(args.skops).parent.mkdir(parents=True, exist_ok=True)
        save_model(model, args.skops)
        runtime = "ONNX Runtime (the graph is inside the file)" if args.onnx else "PyTorch"
        print(f"Wrote {args.skops}: {type(model).__name__}, predicting with {runtime}")
    return 0


def _demo(args):
    from skfkd.baselines import MeanKeypointRegressor, make_pca_ridge
    from skfkd.neural import FacialKeypointRegressor

    started = time.perf_counter()
    print(f"Loading {args.data} faces ...", flush=True)
    train, test = _split(_load_dataset(args), 0.2, args.random_state)
    print(f"  {len(train.X)} training and {len(test.X)} test faces ({time.perf_counter() - started:.1f} s)")
    models = {
        "mean shape": MeanKeypointRegressor(),
        "PCA + ridge": make_pca_ridge(random_state=args.random_state),
        "FacialKeypointRegressor": FacialKeypointRegressor(
            max_epochs=args.max_epochs, random_state=args.random_state, verbose=1
        ),
    }
    rows = []
    for name, model in models.items():
        print(f"Training {name} ...", flush=True)
        tic = time.perf_counter()
        model.fit(train.X, train.y)
        row = {"model": name, **_error_row("", test.y, model.predict(test.X))}
        del row["how"], row["faces"]
        rows.append({**row, "fit time": f"{time.perf_counter() - tic:.1f}s"})
    _print_table(rows, f"Held-out errors on {len(test.X)} {args.data} faces (lower is better)")
    if args.photo:
        _annotate_astronaut(_output_folder(args.out))
    return 0


def _annotate_astronaut(out):
    """Draw the pretrained landmarker's keypoints on scikit-image's astronaut photo."""
    from skimage import data

    print("Annotating skimage.data.astronaut() with the pretrained landmarker ...", flush=True)
    landmarker = _load_pretrained().set_params(max_faces=1)
    photo = data.astronaut()
    faces = landmarker.predict_faces([photo])[0]
    if not len(faces.keypoints):
        raise _BadInput("the pretrained landmarker found no face in the astronaut photo")
    _write_predictions("csv", ["astronaut"], [photo], [faces], landmarker, out)
    print(
        f"  1 face (detector score {faces.scores[0]:.2f}), {faces.keypoints.shape[1]} keypoints: "
        f"wrote {out / 'astronaut_keypoints.png'}"
    )


# --------------------------------------------------------------------------- parsing


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


_MODEL_HELP = (
    "model: a .skops file from `skfkd train`, an .onnx file from `skfkd export`, or `pretrained` (the "
    "shipped landmarker); read by its content, never its name"
)


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


def _parser():
    parser = argparse.ArgumentParser(
        prog="skfkd", description="Facial keypoint detection with the scikit-learn API."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and report its held-out errors")
    _add_data_options(train)
    train.add_argument(
        "--out", required=True, help="model file to write: a .skops file, which loads without running code"
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
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="print a model's errors on a dataset")
    evaluate.add_argument("model", help=_MODEL_HELP)
    _add_trust_options(evaluate)
    _add_data_options(evaluate)
    evaluate.add_argument(
        "--subset", choices=["training", "test"], default="test", help="YouTube split (default: test)"
    )
    evaluate.set_defaults(handler=_evaluate_command)

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
        help=f"optional {_MODEL_HELP} (trained on photos), then JPEG or PNG photos",
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
    predict.set_defaults(handler=_predict)

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
    export.set_defaults(handler=_export)

    demo = commands.add_parser(
        "demo",
        help="train and evaluate on held-out faces; annotate a photo with the pretrained landmarker",
        description="Train the models on synthetic faces (or real ones from --path) and print held-out "
        "errors, then draw the pretrained landmarker's keypoints on skimage.data.astronaut() into "
        "astronaut_keypoints.png.",
    )
    demo.add_argument("--data", choices=["synthetic", "youtube", "kaggle"], default="synthetic")
    demo.add_argument(
        "--path", default=None, help="folder or file of the youtube/kaggle data (default: SKFKD_DATA)"
    )
    demo.add_argument("--n-samples", type=int, default=3000, help="number of synthetic faces (default: 3000)")
    # Half the regressor's default: the demo is a first look that should end in minutes.
    demo.add_argument("--max-epochs", type=int, default=60, help="CNN training epochs at most (default: 60)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument(
        "--no-photo",
        dest="photo",
        action="store_false",
        help="skip annotating skimage.data.astronaut() with the pretrained landmarker",
    )
    demo.add_argument("--out", default=".", help="folder for astronaut_keypoints.png (default: here)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except (_BadInput, FileNotFoundError, IsADirectoryError, NotADirectoryError, ValueError) as error:
        print(f"skfkd: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("skfkd: error: out of memory: the input is too large for this machine", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("skfkd: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 (one line for a person, not a traceback)
        print(f"skfkd: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILURE
