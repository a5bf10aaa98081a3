import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skfkd import IBUG_68, KAGGLE_15, KeypointLayout, to_keypoints, to_targets

LAYOUTS = [KAGGLE_15, IBUG_68]


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=4, max_side=6).map(lambda s: (*s[:-1], 2 * s[-1])),
        elements=st.floats(allow_nan=True, width=64),
    )
)
def test_targets_keypoints_round_trip_for_any_shape(y):
    keypoints = to_keypoints(y)
    assert keypoints.shape == (*y.shape[:-1], y.shape[-1] // 2, 2)
    np.testing.assert_array_equal(keypoints[..., 0], y[..., 0::2])
    np.testing.assert_array_equal(keypoints[..., 1], y[..., 1::2])
    np.testing.assert_array_equal(to_targets(keypoints), y)


@pytest.mark.parametrize("shape", [(3, 5), (7,), ()])
def test_to_keypoints_rejects_odd_columns(shape):
    with pytest.raises(ValueError, match="even number of columns"):
        to_keypoints(np.zeros(shape))


def test_to_targets_rejects_non_point_arrays():
    with pytest.raises(ValueError, match=r"\(\.\.\., n_keypoints, 2\)"):
        to_targets(np.zeros((4, 3)))


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_flip_permutation_is_an_involution(layout):
    perm = layout.flip_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(layout.n_keypoints))
    assert sorted(perm) == list(range(layout.n_keypoints))


@st.composite
def layouts(draw):
    k = draw(st.integers(2, 40))
    order = draw(st.permutations(range(k)))
    n_pairs = draw(st.integers(0, k // 2))
    pairs = [(order[2 * i], order[2 * i + 1]) for i in range(n_pairs)]
    interocular = (order[0], order[1])
    return KeypointLayout("drawn", [f"p{i}" for i in range(k)], pairs, interocular)


@given(layouts())
def test_any_valid_layout_flips_back_to_itself(layout):
    perm = layout.flip_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(layout.n_keypoints))
    for i, j in layout.flip_pairs:
        assert perm[i] == j and perm[j] == i


def _mirror(keypoints, width, layout):
    mirrored = keypoints[:, layout.flip_permutation].copy()
    mirrored[..., 0] = width - 1 - mirrored[..., 0]
    return mirrored


@given(hnp.arrays(np.float64, (3, 68, 2), elements=st.floats(-1e3, 1e3)), st.integers(1, 500))
def test_mirroring_twice_restores_the_face(keypoints, width):
    twice = _mirror(_mirror(keypoints, width, IBUG_68), width, IBUG_68)
    np.testing.assert_allclose(twice, keypoints, atol=1e-9)


def test_ibug_flip_pairs_match_real_faces(youtube_faces):
    # On real, roughly frontal faces each point of a pair is the mirror image of its twin:
    # the two lie on opposite sides of the face at the same height.
    mean = to_keypoints(youtube_faces.target).mean(axis=0)
    midline = mean[[27, 28, 29, 30, 33, 51, 57, 62, 66, 8], 0].mean()
    for i, j in IBUG_68.flip_pairs:
        assert (mean[i, 0] - midline) * (mean[j, 0] - midline) < 0, (i, j)
        assert abs((mean[i, 0] - midline) + (mean[j, 0] - midline)) < 3.0, (i, j)
        assert abs(mean[i, 1] - mean[j, 1]) < 3.0, (i, j)
    # The subject's right eye (36-41) appears on the image's left.
    assert mean[36:42, 0].max() < midline < mean[42:48, 0].min()


def test_kaggle_flip_pairs_mirror_left_and_right_names():
    for i, j in KAGGLE_15.flip_pairs:
        a, b = KAGGLE_15.keypoint_names[i], KAGGLE_15.keypoint_names[j]
        assert a.replace("left", "right") == b or a.replace("right", "left") == b
    unpaired = set(range(15)) - {i for pair in KAGGLE_15.flip_pairs for i in pair}
    assert {KAGGLE_15.keypoint_names[i] for i in unpaired} == {
        "nose_tip",
        "mouth_center_top_lip",
        "mouth_center_bottom_lip",
    }


def test_layout_facts():
    assert KAGGLE_15.n_keypoints == 15 and IBUG_68.n_keypoints == 68
    assert KAGGLE_15.interocular == (0, 1) and IBUG_68.interocular == (36, 45)
    assert KAGGLE_15.target_names[:3] == ["left_eye_center_x", "left_eye_center_y", "right_eye_center_x"]
    assert len(IBUG_68.target_names) == 136
    # Drawing edges: the jaw is an open chain, the eyes and lips closed loops.
    assert (0, 1) in IBUG_68.edges and (16, 0) not in IBUG_68.edges and (41, 36) in IBUG_68.edges


def test_layout_is_immutable_and_hashable():
    with pytest.raises(AttributeError):
        KAGGLE_15.name = "other"
    assert {KAGGLE_15: 1}[KAGGLE_15] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keypoint_names": []}, "no keypoints"),
        ({"keypoint_names": ["a", "a", "b"]}, "repeats"),
        ({"flip_pairs": [(0, 0)]}, "two distinct"),
        ({"flip_pairs": [(0, 3)]}, "outside 0..2"),
        ({"flip_pairs": [(0, 1), (1, 2)]}, "two flip pairs"),
        ({"interocular": (1, 1)}, "interocular"),
        ({"interocular": (0, 5)}, "outside"),
        ({"edges": [(0, 9)]}, "edge index 9"),
    ],
)
def test_layout_rejects_inconsistent_definitions(kwargs, message):
    definition = {"name": "bad", "keypoint_names": ["a", "b", "c"], "flip_pairs": [], "interocular": (0, 1)}
    definition.update(kwargs)
    with pytest.raises(ValueError, match=message):
        KeypointLayout(**definition)


def test_check_targets_names_the_expected_width():
    assert KAGGLE_15.check_targets([[0.0] * 30]).dtype == float
    with pytest.raises(ValueError, match=r"15 keypoints.*\(n_samples, 30\).*\(2, 136\)"):
        KAGGLE_15.check_targets(np.zeros((2, 136)))


def test_resolve_layout_picks_by_size_and_checks_explicit_layouts():
    from skfkd._layout import resolve_layout

    assert resolve_layout(None, 15) is KAGGLE_15 and resolve_layout(None, 68) is IBUG_68
    assert resolve_layout(IBUG_68, 68) is IBUG_68
    with pytest.raises(ValueError, match="no built-in layout has 5 keypoints"):
        resolve_layout(None, 5)
    with pytest.raises(ValueError, match="'kaggle_15' has 15 keypoints but the targets have 68"):
        resolve_layout(KAGGLE_15, 68)
    with pytest.raises(TypeError, match="KeypointLayout or None"):
        resolve_layout("ibug", 68)
