"""Faces in whole photos, end to end: the pretrained landmarker with its own detector,
beside dlib's HOG detector + shape predictor, on the held-out part of every shared source.

For each source (YouTube by identity; LFPW, HELEN, AFW by photo; benchmarks/_sources.py):

- found: the share of annotated faces that the detector frames (a box centred inside the
  landmarks' box, its side half to twice their longer extent);
- NME (outer inter-ocular) and failure rate at 0.08 through the landmarker's own detector
  (found faces only), against NME on crops framed on the true landmarks (the same
  regressor, the same framing as training: what detection costs);
- other boxes per photo: detections that frame no annotated face (in LFPW and AFW photos,
  many are unannotated faces, not false alarms);
- time per photo on one core, each photo scaled to 640 pixels on its longer side:
  detection, crops and network (each of the 1 + n_refinements passes, the last on five crops
  with the shift test), end to end.

dlib (when importable): ``dlib.get_frontal_face_detector()`` boxes, calibrated to the
landmark framing on the training photos as FaceLandmarker calibrates YuNet's, then dlib's
shape predictor (benchmarks/_peers.py) trained on the pretrained landmarker's training
faces (axis-aligned crops, the 300-W faces' mirror images included).

    python benchmarks/faces.py            # about an hour on a 2-core CPU the first time, dlib's training
                                          # most of it (kept in a cache: see _wild.train_dlib)
    python benchmarks/faces.py --quick    # a sample, no dlib: a few minutes
    python benchmarks/faces.py --dlib-every 10   # dlib trained on a tenth of the faces: minutes

Writes benchmarks/results/faces[_quick].md.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment_lines, markdown_table  # noqa: E402
from _sources import SOURCES, TITLES, split_source  # noqa: E402
from _wild import crop_training_set, framed_on_the_landmarks, train_dlib  # noqa: E402

from skfkd import load_pretrained, to_targets  # noqa: E402
from skfkd._framing import landmark_boxes, shifted_frames  # noqa: E402
from skfkd.datasets import get_data_home  # noqa: E402
from skfkd.faces import crop_faces, detect_faces, landmark_frames, match_faces, uncrop_keypoints  # noqa: E402
from skfkd.faces._matching import matching_box  # noqa: E402
from skfkd.metrics import failure_rate, normalized_mean_error  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TIMING_SIDE = 640


def _frames_face(box, truth):
    """Does a detector box frame the annotated face (keypoints ``truth``)? The landmarker's
    own test, with which it calibrates its detector."""
    return matching_box(box[None], landmark_boxes(truth[None])[0]) is not None


def _photos(part):
    """``{photo id: (photo, [annotated keypoints])}``, each photo once."""
    photos = {}
    for photo, keypoints, photo_id in zip(part.photos, part.keypoints, part.photo_ids):
        photos.setdefault(photo_id, (photo, []))[1].append(keypoints)
    return photos


def detection_counts(boxes_per_photo, photos):
    """Annotated faces found, and boxes that frame no annotated face, over the photos."""
    found = total = others = 0
    for boxes, (_, faces) in zip(boxes_per_photo, photos.values()):
        # (boxes, faces): the shape is given, since a photo may have no box at all.
        hits = np.array([[_frames_face(box, face) for face in faces] for box in boxes], dtype=bool).reshape(
            len(boxes), len(faces)
        )
        found += int(hits.any(axis=0).sum())
        total += len(faces)
        others += int((~hits.any(axis=1)).sum())
    return found, total, others


def errors(truth, predicted):
    ok = ~np.isnan(predicted).all(axis=(1, 2))
    y_true, y_pred = to_targets(truth[ok]), to_targets(predicted[ok])
    return ok, normalized_mean_error(y_true, y_pred), failure_rate(y_true, y_pred)


def _at_640(photo):
    scale = TIMING_SIDE / max(photo.shape[:2])
    size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def timing(landmarker, photos, repeats=3):
    """Median ms per photo at 640 px: detection, crops, network (all passes), end to end."""
    parts = {"detector": [], "crops": [], "network": [], "end to end": []}
    # Crops per pass: one, and on the last pass the frame and its shifted copies with the shift
    # test (the regressor's flip test, when on, mirrors each of them inside its predict).
    views = 1 + len(shifted_frames(np.array([[0.0, 0.0, 1.0, 0.0]]), landmarker.shift_test))
    passes = [1] * landmarker.n_refinements + [views if landmarker.shift_test else 1]
    for photo in photos:
        photo = _at_640(photo)
        for _ in range(repeats):
            tic = time.perf_counter()
            (faces,) = landmarker.predict_faces([photo])
            parts["end to end"].append(time.perf_counter() - tic)
            tic = time.perf_counter()
            detect_faces(photo, detector=landmarker.detector, score_threshold=landmarker.score_threshold)
            parts["detector"].append(time.perf_counter() - tic)
            if len(faces.keypoints):
                frames = landmark_frames(
                    faces.keypoints[:1], margin=landmarker.crop_margin, align=landmarker.align
                )
                tic = time.perf_counter()
                crops = [
                    crop_faces(
                        [photo] * n,
                        np.repeat(frames, n, axis=0),
                        size=landmarker.crop_size,
                        colour=landmarker.colour,
                    )
                    for n in passes
                ]
                parts["crops"].append(time.perf_counter() - tic)
                tic = time.perf_counter()
                for X in crops:
                    landmarker.regressor_.predict(X)
                parts["network"].append(time.perf_counter() - tic)
    return {
        name: 1000 * float(np.median(values)) if values else float("nan") for name, values in parts.items()
    }


def clone_without_averaging(landmarker):
    """A shallow copy of the fitted landmarker (its network shared) with neither the shift
    test nor its regressor's flip test: one crop per pass."""
    plain = copy.copy(landmarker).set_params(shift_test=0.0)
    plain.regressor_ = copy.copy(landmarker.regressor_).set_params(flip_test=False)
    return plain


class DlibPipeline:
    """dlib's HOG face detector, calibrated to the landmark framing, and its shape predictor
    trained on the training photos' axis-aligned 96x96 landmark crops."""

    def __init__(self, train_parts, every=1):
        import dlib

        self.detector = dlib.get_frontal_face_detector()
        # The pretrained landmarker's training faces (the 300-W faces' mirror images too).
        X, y = crop_training_set(train_parts)
        X, y = X[::every], y[::every]
        self.n_train = len(X)
        self.subset = f" (trained on 1/{every} of the faces)" if every > 1 else ""
        self.predictor, self.fit_seconds = train_dlib(X, y)
        offsets = []
        for part in train_parts.values():
            for photo, face in list(zip(part.photos, part.keypoints))[::10]:
                frame = landmark_frames(face[None], margin=0.0, align=False)[0]
                boxes = self.boxes(photo)
                best = matching_box(boxes, landmark_boxes(face[None])[0])
                if best is not None:
                    centre, side = boxes[best, :2] + boxes[best, 2:] / 2, boxes[best, 2:].max()
                    offsets.append([*((frame[:2] - centre) / side), np.log(frame[2] / side)])
        self.calibration = np.median(offsets, axis=0)

    def boxes(self, photo):
        gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY) if photo.ndim == 3 else photo
        scale = min(1.0, TIMING_SIDE / max(gray.shape))
        if scale < 1:
            gray = cv2.resize(gray, (round(gray.shape[1] * scale), round(gray.shape[0] * scale)))
        found = self.detector(gray, 1)  # one up-sampling, dlib's usual setting
        return (
            np.array([[r.left(), r.top(), r.width(), r.height()] for r in found], dtype=float).reshape(-1, 4)
            / scale
        )

    def predict(self, photo):
        boxes = self.boxes(photo)
        if not len(boxes):
            return boxes, np.empty((0, 68, 2))
        dx, dy, log_scale = self.calibration
        side = boxes[:, 2:].max(axis=1)
        centre = boxes[:, :2] + boxes[:, 2:] / 2 + np.column_stack([dx, dy]) * side[:, None]
        frames = np.column_stack([centre, side * np.exp(log_scale) * 1.2, np.zeros(len(boxes))])
        X = crop_faces([photo] * len(boxes), frames)
        return boxes, uncrop_keypoints(self.predictor.predict(X), frames).reshape(-1, 68, 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a sample of each source, no dlib: a few minutes"
    )
    parser.add_argument(
        "--data", default=None, help="folder holding the shared sources (default: SKFKD_DATA)"
    )
    parser.add_argument("--no-dlib", action="store_true", help="skip dlib's detector and shape predictor")
    parser.add_argument(
        "--dlib-every",
        type=int,
        default=1,
        help="train dlib's shape predictor on every N-th training face (its speed does not depend on "
        "how many; its accuracy does, and the report says N)",
    )
    options = parser.parse_args(argv)
    data = Path(options.data) if options.data else get_data_home()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    landmarker = load_pretrained()
    parts = {name: split_source(data, name, options.quick) for name in SOURCES}

    dlib = None
    if not (options.quick or options.no_dlib):
        try:
            import dlib as _  # noqa: F401

            train_parts = {name: train for name, (train, _held_out) in parts.items()}
            dlib = DlibPipeline(train_parts, every=options.dlib_every)
        except ImportError:
            print("dlib is not importable: its rows are left out")

    accuracy, speed = [], []
    for name, (_, held_out) in parts.items():
        photos = _photos(held_out)
        print(f"{TITLES[name]}: {len(held_out)} faces in {len(photos)} photos", flush=True)
        framed = framed_on_the_landmarks(landmarker, held_out.photos, held_out.keypoints).reshape(
            held_out.keypoints.shape
        )
        _, framed_nme, framed_failure = errors(held_out.keypoints, framed)
        per_photo = landmarker.predict_faces([photo for photo, _ in photos.values()])
        found, total, others = detection_counts([faces.boxes for faces in per_photo], photos)
        by_photo = dict(zip(photos, per_photo))
        predicted = match_faces([by_photo[i].keypoints for i in held_out.photo_ids], held_out.keypoints)
        ok, nme, failure = errors(held_out.keypoints, predicted)
        accuracy.append(
            [
                TITLES[name],
                "skfkd pretrained (YuNet)",
                f"{found}/{total} ({found / total:.1%})",
                f"{others / len(photos):.2f}",
                f"{nme:.2%}",
                f"{failure:.1%}",
                f"{framed_nme:.2%}",
                f"{framed_failure:.1%}",
                f"{100 * (nme - framed_nme):+.2f}",
            ]
        )
        print("  " + " | ".join(accuracy[-1][1:]), flush=True)
        sample = [photo for photo, _ in list(photos.values())[:: max(1, len(photos) // 40)]]
        ours = timing(landmarker, sample)
        row = [TITLES[name], "skfkd pretrained (YuNet)", *(f"{ours[k]:.1f}" for k in ours), "1.00"]
        speed.append(row)
        if landmarker.shift_test or landmarker.regressor_.flip_test:
            # What the shift and flip tests cost: the same landmarker on the frame alone.
            plain = timing(clone_without_averaging(landmarker), sample)
            ratio = plain["end to end"] / ours["end to end"]
            title = "same, shift_test=0, flip_test=False"
            speed.append([TITLES[name], title, *(f"{plain[k]:.1f}" for k in plain), f"{ratio:.2f}"])
        if dlib is not None:
            results = [dlib.predict(photo) for photo, _ in photos.values()]
            found, total, others = detection_counts([boxes for boxes, _ in results], photos)
            by_photo = dict(zip(photos, [keypoints for _, keypoints in results]))
            predicted = match_faces([by_photo[i] for i in held_out.photo_ids], held_out.keypoints)
            _, nme, failure = errors(held_out.keypoints, predicted)
            framed_dlib = uncrop_keypoints(
                dlib.predictor.predict(held_out.X), landmark_frames(held_out.keypoints, align=False)
            )
            dlib_framed = normalized_mean_error(to_targets(held_out.keypoints), framed_dlib)
            accuracy.append(
                [
                    TITLES[name],
                    "dlib HOG detector + shape predictor" + dlib.subset,
                    f"{found}/{total} ({found / total:.1%})",
                    f"{others / len(photos):.2f}",
                    f"{nme:.2%}",
                    f"{failure:.1%}",
                    f"{dlib_framed:.2%} (axis-aligned crops)",
                    "",
                    f"{100 * (nme - dlib_framed):+.2f}",
                ]
            )
            times = []
            for photo in sample:
                photo = _at_640(photo)
                tic = time.perf_counter()
                dlib.predict(photo)
                times.append(time.perf_counter() - tic)
            dlib_ms = 1000 * float(np.median(times))
            speed.append(
                [
                    TITLES[name],
                    "dlib HOG + shape predictor" + dlib.subset,
                    "",
                    "",
                    "",
                    f"{dlib_ms:.1f}",
                    f"{dlib_ms / ours['end to end']:.2f}",
                ]
            )
        print("  " + " | ".join(speed[-1][1:]), flush=True)

    lines = [
        "# Faces in photos, end to end" + (" (quick)" if options.quick else ""),
        "",
        *environment_lines(),
        f"- landmarker: skfkd.load_pretrained() (detector {landmarker.detector}, score threshold "
        f"{landmarker.score_threshold}, n_refinements {landmarker.n_refinements}, shift_test "
        f"{landmarker.shift_test:g}, its regressor's flip_test {landmarker.regressor_.flip_test!r}); "
        f"held-out parts of benchmarks/_sources.py",
        *(
            [
                f"- dlib shape predictor trained on {dlib.n_train} faces (every {options.dlib_every}. of the "
                f"landmarker's training faces) in {dlib.fit_seconds:.0f} s"
            ]
            if dlib
            else []
        ),
        "",
        "## Accuracy on the held-out photos",
        "",
        "Found: annotated faces the detector frames. Other boxes: detections framing no annotated face, "
        "per photo (in LFPW and AFW many are real, unannotated faces). NME and failure rate (NME > 0.08) "
        "through the detector are over the faces found; framed: the same model on crops framed on the "
        "true landmarks. Gap: detector NME minus framed NME, in points.",
        "",
        *markdown_table(
            [
                "source",
                "model",
                "found",
                "other boxes / photo",
                "NME (detector)",
                "failures (detector)",
                "NME (framed)",
                "failures (framed)",
                "gap (points)",
            ],
            accuracy,
        ),
        "",
        f"## Time per photo, one core, photos scaled to {TIMING_SIDE} px on the longer side (median ms)",
        "",
        "Crops and network: all passes of one face (1 + n_refinements, the last on five crops with the "
        "shift test; the flip test mirrors every crop in the network's batch). Ratio: end to end against "
        "skfkd's.",
        "",
        *markdown_table(["source", "model", "detector", "crops", "network", "end to end", "ratio"], speed),
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("faces_quick.md" if options.quick else "faces.md")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
