"""The work behind each command, once its arguments are parsed."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path

from skfkd.cli._inputs import (
    EXIT_INTERRUPTED,
    EXIT_NO_FACE,
    BadInput,
    is_photo_landmarker,
    load_dataset,
    load_model,
    load_pretrained,
    model_and_photos,
    model_parameters,
    read_photos,
    route_parameters,
    split,
)
from skfkd.cli._outputs import (
    error_row,
    evaluation_rows,
    log_settings,
    output_folder,
    print_table,
    write_model,
    write_predictions,
)

# Fine-tuning a trained landmarker (train --init): a few epochs at a tenth of the rate,
# unless the command line says otherwise.
FINE_TUNING = {"max_epochs": 10, "lr": 2e-4}
# The demo's short CNN run: enough to see it learn, keeping the whole demo under three
# minutes on the slowest 2-core machine seen here, about three times slower than the fastest
# (156 s there, where 12 epochs took 260 s; held out, NME 6.2% against PCA + ridge's 17.6%).
DEMO_EPOCHS = 7


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


# --------------------------------------------------------------------------- train


def train(args):
    from skfkd.faces import FaceLandmarker
    from skfkd.neural import FacialKeypointRegressor

    out = Path(args.out)
    if out.is_dir():
        raise BadInput(f"--out {out} is a folder; give a file name such as model.skops")
    if out.suffix.lower() != ".skops":
        raise BadInput(
            f"--out {out}: skfkd writes skops files, which load without running code; name it *.skops"
        )
    regressor_params, landmarker_params = route_parameters(
        model_parameters(args.model_params), FacialKeypointRegressor, FaceLandmarker
    )
    if args.max_epochs is not None:
        regressor_params["max_epochs"] = args.max_epochs
    print("Loading the faces ...", flush=True)
    dataset = load_dataset(args)
    train_part, test_part = split(dataset, args.test_size, args.random_state)
    print(
        f"  {len(train_part.X)} training and {len(test_part.X)} held-out faces from {dataset.name}",
        flush=True,
    )
    if args.init is not None:
        model = _fine_tuning(args, train_part, regressor_params, landmarker_params)
    else:
        regressor = FacialKeypointRegressor(random_state=args.random_state, verbose=1, **log_settings())
        regressor.set_params(**regressor_params)
        if train_part.photos is not None:
            model = FaceLandmarker(regressor, random_state=args.random_state, verbose=1, **landmarker_params)
        elif landmarker_params:
            raise BadInput(
                f"{', '.join(landmarker_params)}: landmarker parameters, but {dataset.name} has no photos"
            )
        else:
            model = regressor
    started = time.perf_counter()
    with _interrupts_noted() as noted:
        if args.init is not None:
            model.partial_fit(list(train_part.photos), train_part.keypoints)
        elif train_part.photos is not None:
            model.fit(list(train_part.photos), train_part.keypoints)
        else:
            model.fit(train_part.X, train_part.y)
    if noted["interrupted"]:
        if not args.keep_partial:
            print(
                "skfkd: interrupted; no model written (--keep-partial writes what was trained)",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        write_model(model, out)
        print(f"skfkd: interrupted; wrote the partly trained model to {out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"Trained in {time.perf_counter() - started:.0f} s", flush=True)
    write_model(model, out)
    print(f"Wrote {out}")
    print_table(
        evaluation_rows(model, test_part), f"Held-out errors on {len(test_part.X)} faces (lower is better)"
    )
    return 0


def _fine_tuning(args, train_part, regressor_params, landmarker_params):
    """The landmarker of ``--init``, set to train on: fine-tuning parameters unless given."""
    model = load_model(args.init, args.trust, args.trust_pickle)
    if not is_photo_landmarker(model) or not hasattr(model.regressor_, "partial_fit"):
        raise BadInput(f"--init {args.init}: fine-tuning needs a photo landmarker with a trainable regressor")
    if train_part.photos is None:
        raise BadInput("--init fine-tunes a photo landmarker: give a source with photos (youtube, pts, xml)")
    if train_part.keypoints.shape[1] != model.n_keypoints_:
        raise BadInput(
            f"--init {args.init} predicts {model.n_keypoints_} keypoints but the data have "
            f"{train_part.keypoints.shape[1]}"
        )
    model.set_params(verbose=1, **landmarker_params)
    model.regressor_.set_params(verbose=1, **log_settings(), **{**FINE_TUNING, **regressor_params})
    settings = ", ".join(f"{name}={value}" for name, value in {**FINE_TUNING, **regressor_params}.items())
    print(f"Fine-tuning {args.init} ({settings})", flush=True)
    return model


# --------------------------------------------------------------------------- evaluate


def evaluate(args):
    model = load_model(args.model, args.trust, args.trust_pickle)
    dataset = load_dataset(args)
    n_model = _n_keypoints(model)
    if n_model is not None and n_model != dataset.y.shape[1] // 2:
        raise BadInput(
            f"the model in {args.model} predicts {n_model} keypoints but the data have {dataset.y.shape[1] // 2}"
        )
    if is_photo_landmarker(model) and dataset.photos is None:
        raise BadInput(f"{args.model} is a photo landmarker; {dataset.name} has crops but no photos")
    print_table(
        evaluation_rows(model, dataset),
        f"Errors on {len(dataset.X)} faces of {dataset.name} (lower is better)",
    )
    return 0


def _n_keypoints(model):
    if is_photo_landmarker(model):
        return model.n_keypoints_
    n_outputs = getattr(model, "n_outputs_", None)
    return None if n_outputs is None else int(n_outputs) // 2


# --------------------------------------------------------------------------- predict


def predict(args):
    model_path, names = model_and_photos(args.inputs)
    model = load_pretrained() if model_path is None else load_model(model_path, args.trust, args.trust_pickle)
    if not is_photo_landmarker(model):
        raise BadInput(
            f"{model_path} holds a {type(model).__name__}, which predicts on face crops, not photos: "
            "photos need a landmarker (skfkd train on a source with photos). An .onnx file from "
            "`skfkd export LANDMARKER --onnx OUT.onnx --skops OUT.skops` holds only its crop regressor; "
            "predict with the OUT.skops file written beside it"
        )
    photos = read_photos(names)  # EXIF orientation applied
    out = output_folder(args.out)
    options = {
        "max_faces": args.max_faces,
        "detector": args.detector,
        "score_threshold": args.score_threshold,
    }
    model.set_params(**{name: value for name, value in options.items() if value is not None})
    found = model.predict_faces(photos)
    write_predictions(args.format, names, photos, found, model, out)
    for name, faces in zip(names, found):
        n_faces = len(faces.keypoints)
        print(f"{name}: {n_faces} face{'s' if n_faces != 1 else ''}")
    without_face = [name for name, faces in zip(names, found) if len(faces.keypoints) == 0]
    if without_face:
        print(f"skfkd: no face found in {', '.join(without_face)}", file=sys.stderr)
        return EXIT_NO_FACE
    return 0


# --------------------------------------------------------------------------- export


def export(args):
    from skfkd.deploy import OnnxKeypointRegressor, export_onnx, save_model

    if args.onnx is None and args.skops is None:
        raise BadInput("say what to write: --onnx OUT.onnx, --skops OUT.skops, or both")
    for option, name in (("--onnx", args.onnx), ("--skops", args.skops)):
        if name is not None and Path(name).is_dir():
            raise BadInput(f"{option} {name} is a folder; give a file name")
    model = load_model(args.model, args.trust, args.trust_pickle)
    if args.onnx is not None:
        if isinstance(model, OnnxKeypointRegressor):
            raise BadInput(f"{args.model} is an ONNX model already")
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


# --------------------------------------------------------------------------- demo


def demo(args):
    """The pretrained landmarker on a photo first (seconds), then models trained and
    compared on held-out faces: the baselines at once, the CNN on a short run (``--full``:
    the regressor's default training)."""
    from skfkd.baselines import MeanKeypointRegressor, make_pca_ridge
    from skfkd.neural import FacialKeypointRegressor

    started = time.perf_counter()
    if args.photo:
        annotate_astronaut(output_folder(args.out), started)
    print(f"\nLoading {args.data} faces ...", flush=True)
    train_part, test_part = split(load_dataset(args), 0.2, args.random_state)
    print(
        f"  {len(train_part.X)} training and {len(test_part.X)} test faces ({time.perf_counter() - started:.1f} s)"
    )
    epochs = {} if args.full else {"max_epochs": DEMO_EPOCHS if args.max_epochs is None else args.max_epochs}
    cnn = FacialKeypointRegressor(random_state=args.random_state, verbose=1, **epochs, **log_settings())
    label = "FacialKeypointRegressor" + ("" if args.full else f" (short run: {cnn.max_epochs} epochs)")
    models = {
        "mean shape": MeanKeypointRegressor(),
        "PCA + ridge": make_pca_ridge(random_state=args.random_state),
    }
    models[label] = cnn
    rows = []
    for name, model in models.items():
        print(f"Training {name} ...", flush=True)
        tic = time.perf_counter()
        model.fit(train_part.X, train_part.y)
        row = {"model": name, **error_row("", test_part.y, model.predict(test_part.X))}
        del row["how"], row["faces"]
        rows.append({**row, "fit time": f"{time.perf_counter() - tic:.1f}s"})
        print_table(rows[-1:], f"{name}, held out ({time.perf_counter() - started:.0f} s since the start)")
    print_table(rows, f"Held-out errors on {len(test_part.X)} {args.data} faces (lower is better)")
    if not args.full:
        print(
            f"\nThe CNN trained {cnn.max_epochs} epochs to keep the demo short: `skfkd demo --full` (or "
            "`make demo DEMO_ARGS=--full`) trains the default 120, and `--data youtube` uses real photos."
        )
    return 0


def annotate_astronaut(out, started):
    """Draw the pretrained landmarker's keypoints on scikit-image's astronaut photo."""
    from skimage import data

    print("Annotating skimage.data.astronaut() with the pretrained landmarker ...", flush=True)
    landmarker = load_pretrained().set_params(max_faces=1)
    photo = data.astronaut()
    faces = landmarker.predict_faces([photo])[0]
    if not len(faces.keypoints):
        raise BadInput("the pretrained landmarker found no face in the astronaut photo")
    write_predictions("csv", ["astronaut"], [photo], [faces], landmarker, out)
    print(
        f"  1 face (detector score {faces.scores[0]:.2f}), {faces.keypoints.shape[1]} keypoints: wrote "
        f"{out / 'astronaut_keypoints.png'} and astronaut.csv ({time.perf_counter() - started:.1f} s)",
        flush=True,
    )
