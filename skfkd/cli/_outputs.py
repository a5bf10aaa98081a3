"""What the commands write: model files, error tables, annotated photos and keypoint files,
and logs that stay plain when they do not go to a terminal."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from skfkd.cli._inputs import BadInput

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def interactive():
    """Does the standard output go to a terminal (colours and progress bars welcome)?"""
    return sys.stdout.isatty()


def plain_print(text):
    """skorch's epoch log without its colour codes, for files and pipes."""
    print(_ANSI.sub("", text), flush=True)


def log_settings():
    """Regressor parameters for the log: as they are in a terminal; without the progress
    bar (carriage returns) and colours when the output is a file or a pipe."""
    if interactive():
        return {}
    return {"callbacks__progress_bar__show": False, "callbacks__print_log__sink": plain_print}


def write_model(model, out):
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


def output_folder(name):
    out = Path(name)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file; expected a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


# --------------------------------------------------------------------------- errors


def error_row(label, y_true, y_pred, n_total=None):
    from skfkd.metrics import failure_rate, keypoint_rmse, normalized_mean_error

    return {
        "how": label,
        "faces": len(y_true) if n_total is None else f"{len(y_true)}/{n_total}",
        "RMSE (px)": f"{keypoint_rmse(y_true, y_pred):.2f}",
        "NME": f"{normalized_mean_error(y_true, y_pred):.2%}",
        "failures": f"{failure_rate(y_true, y_pred):.1%}",
    }


def evaluation_rows(model, dataset):
    """Metric rows. A crop regressor: on the dataset's crops. A photo landmarker: on crops
    framed on the true landmarks as it frames them, and on the faces its detector finds
    (photo pixels both)."""
    from skfkd import to_targets
    from skfkd.faces import landmark_frames, match_faces

    if not hasattr(model, "predict_faces"):
        return [error_row("crops framed on the landmarks", dataset.y, model.predict(dataset.X))]
    photos, truth = list(dataset.photos), dataset.keypoints
    frames = landmark_frames(truth, margin=model.crop_margin, align=model.align)
    framed = to_targets(model.predict_frames(photos, frames))
    rows = [error_row("crops framed on the landmarks (photo px)", to_targets(truth), framed)]
    found = match_faces(model.predict(photos), truth)
    detected = ~np.isnan(found).all(axis=(1, 2))
    if detected.any():
        rows.append(
            error_row(
                "faces found by the detector (photo px)",
                to_targets(truth[detected]),
                to_targets(found[detected]),
                n_total=len(detected),
            )
        )
    return rows


def print_table(rows, title):
    print(f"\n{title}")
    widths = {key: max(len(key), *(len(str(row[key])) for row in rows)) for key in rows[0]}
    print("  ".join(key.ljust(widths[key]) for key in rows[0]))
    for row in rows:
        print("  ".join(str(row[key]).ljust(widths[key]) for key in row), flush=True)


# --------------------------------------------------------------------------- predictions


def write_predictions(file_format, names, photos, found, model, out):
    """The annotated photos, and the faces (keypoints, boxes, scores) in ``file_format``."""
    from skfkd import IBUG_68, KAGGLE_15
    from skfkd.datasets import save_dlib_xml, save_landmark_folder

    layout = {15: KAGGLE_15, 68: IBUG_68}.get(model.n_keypoints_)
    stems = [Path(name).stem for name in names]
    if len(set(stems)) != len(stems):
        raise BadInput("two photos share a file name; their outputs would overwrite each other")
    for stem, photo, faces in zip(stems, photos, found):
        draw(photo, faces.keypoints, layout, out / f"{stem}_keypoints.png")
        if file_format == "csv":
            lines = ["face,score,box_left,box_top,box_width,box_height,keypoint,name,x,y"]
            for f, (face, box, score) in enumerate(zip(*faces)):
                head = f"{f},{score:.4f}," + ",".join(f"{v:.2f}" for v in box)
                for k, (x, y) in enumerate(face):
                    name = layout.keypoint_names[k] if layout else str(k)
                    lines.append(f"{head},{k},{name},{x:.3f},{y:.3f}")
            (out / f"{stem}.csv").write_text("\n".join(lines) + "\n")
        elif file_format == "json":
            faces_out = [
                {
                    "score": round(float(score), 4),
                    "box": box.round(2).tolist(),
                    "keypoints": face.round(3).tolist(),
                }
                for face, box, score in zip(*faces)
            ]
            (out / f"{stem}.json").write_text(
                json.dumps({"photo": stem, "faces": faces_out}, indent=1) + "\n"
            )
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
            files = [
                f"{stem}.png" if len(faces.keypoints) == 1 else f"{stem}_{number}.png"
                for stem, faces in zip(stems, found)
                for number in range(1, len(faces.keypoints) + 1)
            ]
            save_landmark_folder(images, keypoints, out / "pts", filenames=files, overwrite=True)
        else:
            save_dlib_xml(
                images,
                keypoints,
                out / "predictions.xml",
                filenames=[f"{row[0]}.png" for row in rows],
                boxes=np.stack([row[3] for row in rows]),
                overwrite=True,
            )


def draw(photo, faces, layout, path):
    """The photo with the faces' keypoints drawn, at its own size, into ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise BadInput("drawing the keypoints needs matplotlib: pip install skfkd[plot]") from None
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
