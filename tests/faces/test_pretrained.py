"""The pretrained landmarker that ships with skfkd."""

import re

import numpy as np
import pytest
from PIL import Image
from skimage import data

from skfkd import IBUG_68, load_pretrained
from skfkd.cli import main
from skfkd.faces import FaceLandmarker, match_faces, pretrained_model_card, wild_landmarker
from skfkd.faces._recipes import WILD_NETWORK
from skfkd.metrics import normalized_mean_error


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained()


@pytest.fixture(scope="module")
def astronaut_face(pretrained):
    """YuNet's box on the astronaut photo, and the 68 points the landmarker found there."""
    (faces,) = pretrained.predict_faces([data.astronaut()])
    assert len(faces.keypoints) == 1  # no false face on the astronaut photo
    return faces.boxes[0], faces.keypoints[0]


def test_it_is_a_fitted_68_point_landmarker(pretrained):
    assert isinstance(pretrained, FaceLandmarker)
    assert pretrained.n_keypoints_ == 68 and pretrained.regressor_.layout_ == IBUG_68
    assert pretrained.detector == "yunet" and pretrained.n_calibration_faces_ >= 190


def test_it_is_the_recipe_trained_to_its_last_epoch(pretrained):
    # `make pretrained` fits wild_landmarker(random_state=0): a model trained another way
    # would carry held-out figures that are not the recipe's.
    recipe = wild_landmarker(random_state=0)
    assert pretrained.crop_size == recipe.crop_size and pretrained.colour == recipe.colour
    # and it predicts as the recipe does (train_pretrained.py --rescore sets these alone)
    assert pretrained.n_refinements == recipe.n_refinements and pretrained.shift_test == recipe.shift_test
    shipped, expected = pretrained.regressor_.get_params(), recipe.regressor.get_params()
    for name in [*WILD_NETWORK, "flip_test"]:
        assert shipped[name] == expected[name], name
    assert len(pretrained.regressor_.history_) == expected["max_epochs"]


def test_every_astronaut_point_lies_in_the_detected_face_box(astronaut_face):
    # YuNet's box reaches from the brows to the chin; the points may touch its edge.
    (left, top, width, height), face = astronaut_face
    assert np.isfinite(face).all()
    slack = 0.1 * np.array([width, height])
    low, high = np.array([left, top]) - slack, np.array([left + width, top + height]) + slack
    inside = ((face >= low) & (face <= high)).all(axis=1)
    assert inside.all(), face[~inside]


def test_the_astronauts_eyes_nose_and_mouth_are_in_order(astronaut_face):
    _, face = astronaut_face
    names = list(IBUG_68.keypoint_names)

    def centre(*prefixes):
        return face[[i for i, name in enumerate(names) if name.startswith(prefixes)]].mean(axis=0)

    # The subject's right eye appears on the image's left.
    right_eye, left_eye = centre("right_eye"), centre("left_eye")
    nose_tip, mouth = face[30], centre("outer_lip", "inner_lip")
    assert right_eye[0] < nose_tip[0] < left_eye[0]
    assert max(right_eye[1], left_eye[1]) < nose_tip[1] < mouth[1]
    assert face[8, 1] > mouth[1]  # the chin below the mouth


def test_it_predicts_on_held_out_style_photos_within_a_sane_error(pretrained, lfpw_path):
    """On LFPW photos (some of them its training photos): a sanity bound, not its figure:
    benchmarks/train_pretrained.py measures it on held-out photos."""
    from skfkd.datasets import load_landmark_folder

    faces = load_landmark_folder(lfpw_path, crop_size=None)
    rows = np.arange(0, len(faces.images), 40)
    found = match_faces(pretrained.predict(list(faces.images[rows])), faces.keypoints[rows])
    detected = ~np.isnan(found).all(axis=(1, 2))
    assert detected.mean() == 1
    nme = normalized_mean_error(
        faces.keypoints[rows][detected].reshape(detected.sum(), -1),
        found[detected].reshape(detected.sum(), -1),
    )
    assert nme < 0.07


def test_a_photo_without_a_face_gives_no_face(pretrained):
    blank = np.full((200, 200), 127, np.uint8)
    (faces,) = pretrained.predict([blank])
    assert faces.shape == (0, 68, 2)


def test_it_fine_tunes_on_new_photos(youtube_faces):
    landmarker = load_pretrained()  # a copy of its own: the fine-tuning changes it
    landmarker.regressor_.set_params(max_epochs=1, lr=1e-4)
    before = [p.detach().clone() for p in landmarker.regressor_.module_.parameters()]
    rows = slice(0, 48)
    photos, keypoints = list(youtube_faces.images[rows]), youtube_faces.keypoints[rows]
    calibration = landmarker.box_calibration_.copy()
    assert landmarker.partial_fit(photos, keypoints) is landmarker
    after = list(landmarker.regressor_.module_.parameters())
    assert any(not np.array_equal(a.detach().numpy(), b.numpy()) for a, b in zip(after, before))
    np.testing.assert_array_equal(landmarker.box_calibration_, calibration)  # kept as it was
    with pytest.raises(ValueError, match="predicts 68 keypoints; these photos have 15"):
        landmarker.partial_fit(photos[:2], np.zeros((2, 15, 2)))


def test_the_model_card_says_how_it_was_made():
    card = pretrained_model_card()
    assert card.startswith("# skfkd pretrained 68-point landmarker")
    for needed in ("research and non-commercial use only", "python benchmarks/train_pretrained.py", "NME"):
        assert needed in card
    assert re.search(r"\| skfkd pretrained \| faces its detector finds in the photos \| \d+/\d+", card)


def test_skfkd_predict_needs_no_model_argument(tmp_path, capsys):
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    argv = ["predict", str(tmp_path / "astronaut.png"), "--out", str(tmp_path / "out"), "--max-faces", "1"]
    assert main(argv) == 0
    assert "astronaut.png: 1 face" in capsys.readouterr().out
    rows = (tmp_path / "out" / "astronaut.csv").read_text().splitlines()
    assert len(rows) == 1 + 68
    # The demo draws the same photo after its synthetic run.
    argv = ["demo", "--n-samples", "300", "--max-epochs", "1", "--out", str(tmp_path / "demo")]
    assert main(argv) == 0
    assert (tmp_path / "demo" / "astronaut_keypoints.png").is_file()
    assert "wrote" in capsys.readouterr().out


def _held_out(faces, photo_ids, every):
    """Every ``every``-th face of the held-out 20% (by photo, seed 0: benchmarks/_sources.py)."""
    from sklearn.model_selection import GroupShuffleSplit

    _, test = next(
        GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0).split(faces.keypoints, groups=photo_ids)
    )
    return test[::every]


def _card_nme(source, framing):
    """The NME the model card gives for a source and framing."""
    card = pretrained_model_card()
    section = card[card.index(f"### {source}") :]
    row = next(line for line in section.splitlines() if line.startswith(f"| skfkd pretrained | {framing}"))
    return float(row.split("|")[4].strip().rstrip("%")) / 100


def test_its_figures_hold_on_a_sample_of_the_held_out_photos(pretrained, lfpw_path, helen_path, afw_path):
    # About forty held-out faces of the three 300-W sources, through the landmarker's own
    # detector: the pooled NME of the model card, within the noise of so few faces.
    from skfkd import to_targets
    from skfkd.datasets import load_dlib_xml, load_landmark_folder

    truths, found = [], []
    for faces in (
        load_landmark_folder(lfpw_path, crop_size=None),
        load_landmark_folder(helen_path, crop_size=None),
        load_dlib_xml(afw_path / "afw68.xml", crop_size=None),
    ):
        rows = _held_out(faces, faces.filenames, 10)
        truths.append(faces.keypoints[rows])
        found.append(match_faces(pretrained.predict(list(faces.images[rows])), faces.keypoints[rows]))
    truth, found = np.concatenate(truths), np.concatenate(found)
    assert not np.isnan(found).any()  # every face found
    nme = normalized_mean_error(to_targets(truth), to_targets(found))
    expected = _card_nme("300-W sources pooled (LFPW, HELEN, AFW held out)", "faces its detector finds")
    assert 0.7 * expected < nme < 1.3 * expected, (nme, expected)
