"""skfkd.plotting draws what it is given: points, edges, images, CED and learning curves."""

import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from skorch.history import History  # noqa: E402

from skfkd import IBUG_68, KAGGLE_15, KeypointLayout  # noqa: E402
from skfkd.datasets import make_faces  # noqa: E402
from skfkd.metrics import ced_auc, ced_curve, failure_rate  # noqa: E402
from skfkd.plotting import plot_ced, plot_history, plot_keypoints  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def new_axes():
    return Figure().add_subplot()


def scatter_offsets(ax):
    (scatter,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    return np.asarray(scatter.get_offsets())


def segments(ax):
    return [s for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()]


def expected_segments(points, layout):
    ok = ~np.isnan(points).any(axis=1)
    return [points[[i, j]] for i, j in layout.edges if ok[i] and ok[j]]


@pytest.fixture(scope="module")
def faces_68():
    X, y = make_faces(3, image_size=48, layout=IBUG_68, random_state=0, return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def faces_15():
    X, y = make_faces(3, image_size=48, random_state=0, return_X_y=True)
    return X, y


# -- plot_keypoints -----------------------------------------------------------------


@pytest.mark.parametrize("layout", [KAGGLE_15, IBUG_68])
def test_plot_keypoints_draws_every_point_and_edge(layout):
    X, y = make_faces(1, image_size=48, layout=layout, random_state=1, return_X_y=True)
    points = y[0].reshape(-1, 2)
    ax = plot_keypoints(X[0], y[0], ax=new_axes())
    np.testing.assert_array_equal(scatter_offsets(ax), points)
    drawn = segments(ax)
    assert len(drawn) == len(layout.edges)
    for got, want in zip(drawn, expected_segments(points, layout)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layout", [KAGGLE_15, IBUG_68])
def test_plot_keypoints_skips_nan_points_and_their_edges(layout):
    X, y = make_faces(1, image_size=48, layout=layout, random_state=2, return_X_y=True)
    points = y[0].reshape(-1, 2).copy()
    missing = [0, 5, layout.n_keypoints - 1]
    points[missing] = np.nan
    points[3, 1] = np.nan  # one coordinate missing hides the whole point
    ax = plot_keypoints(X[0], points, ax=new_axes())
    kept = np.setdiff1d(np.arange(layout.n_keypoints), [*missing, 3])
    np.testing.assert_array_equal(scatter_offsets(ax), points[kept])
    want = expected_segments(points, layout)
    assert len(want) < len(layout.edges)
    drawn = segments(ax)
    assert len(drawn) == len(want)
    for got, expected in zip(drawn, want):
        np.testing.assert_array_equal(got, expected)
    assert not np.isnan(np.concatenate(drawn)).any()


def test_plot_keypoints_flat_and_paired_keypoints_agree(faces_15):
    X, y = faces_15
    flat = plot_keypoints(X[0], y[0], ax=new_axes())
    paired = plot_keypoints(X[0], y[0].reshape(-1, 2), ax=new_axes())
    np.testing.assert_array_equal(scatter_offsets(flat), scatter_offsets(paired))
    # Kaggle order: x (the column) comes first.
    np.testing.assert_array_equal(scatter_offsets(flat)[1], y[0, 2:4])


def test_plot_keypoints_reshapes_flat_rows_and_centres_pixels():
    image = np.arange(12.0)  # 3 rows of 4
    ax = plot_keypoints(image, [[0.0, 0.0], [3.0, 2.0]], image_shape=(3, 4), ax=new_axes())
    (drawn,) = ax.images
    np.testing.assert_array_equal(drawn.get_array(), image.reshape(3, 4))
    # Pixel (row r, column c) is centred on (x=c, y=r), with rows going down.
    assert drawn.get_extent() == [-0.5, 3.5, 2.5, -0.5]
    assert ax.get_xlim() == (-0.5, 3.5)
    assert ax.get_ylim() == (2.5, -0.5)
    assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0


def test_plot_keypoints_square_row_grayscale_and_rgb(faces_15):
    X, y = faces_15
    ax = plot_keypoints(X[0], y[0], ax=new_axes())
    assert ax.images[0].get_array().shape == (48, 48)
    assert ax.images[0].get_cmap().name == "gray"
    rgb = np.zeros((10, 12, 3), dtype=np.uint8)
    ax = plot_keypoints(rgb, [5.0, 5.0], ax=new_axes())
    assert ax.images[0].get_array().shape == (10, 12, 3)
    ax = plot_keypoints(rgb[:, :, :1], [5.0, 5.0], ax=new_axes())
    assert ax.images[0].get_array().shape == (10, 12)


def test_plot_keypoints_keeps_the_view_on_the_image():
    ax = plot_keypoints(np.zeros((8, 8)), [[-20.0, 3.0], [40.0, 50.0]], ax=new_axes())
    assert ax.get_xlim() == (-0.5, 7.5)
    assert ax.get_ylim() == (7.5, -0.5)


def test_plot_keypoints_unknown_size_draws_points_only():
    points = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ax = plot_keypoints(np.zeros((8, 8)), points, ax=new_axes())
    np.testing.assert_array_equal(scatter_offsets(ax), points)
    assert segments(ax) == []


def test_plot_keypoints_custom_layout_and_show_edges(faces_15):
    triangle = KeypointLayout(
        "tri", ("a", "b", "c"), flip_pairs=((0, 1),), interocular=(0, 1), edges=((0, 1), (1, 2))
    )
    points = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ax = plot_keypoints(np.zeros((8, 8)), points, layout=triangle, ax=new_axes())
    assert len(segments(ax)) == 2
    X, y = faces_15
    ax = plot_keypoints(X[0], y[0], show_edges=False, ax=new_axes())
    assert segments(ax) == []
    assert len(scatter_offsets(ax)) == 15


def test_plot_keypoints_without_image(faces_15):
    _, y = faces_15
    ax = plot_keypoints(None, y[0], ax=new_axes())
    assert len(ax.images) == 0
    assert ax.yaxis_inverted()
    assert len(segments(ax)) == len(KAGGLE_15.edges)


def test_plot_keypoints_colours_and_scatter_kwargs():
    points = [[1.0, 2.0], [3.0, 4.0]]
    ax = plot_keypoints(np.zeros((8, 8)), points, color="blue", s=40, marker="x", ax=new_axes())
    scatter = ax.collections[-1]
    np.testing.assert_array_equal(scatter.get_sizes(), [40])
    assert matplotlib.colors.same_color(scatter.get_edgecolor()[0], "blue")
    # c colours the points; color still reaches the edges, and no "both given" error.
    _, y = make_faces(1, image_size=48, random_state=0, return_X_y=True)
    ax = plot_keypoints(np.zeros((48, 48)), y[0], c="green", color="blue", ax=new_axes())
    assert matplotlib.colors.same_color(ax.collections[-1].get_facecolor()[0], "green")
    (edges,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert matplotlib.colors.same_color(edges.get_color()[0][:3], "blue")


def test_plot_keypoints_reuses_the_given_axes(faces_15):
    X, y = faces_15
    ax = new_axes()
    assert plot_keypoints(X[0], y[0], ax=ax) is ax
    plot_keypoints(X[1], y[1], ax=ax)
    assert len(ax.images) == 2


def test_plot_keypoints_creates_a_figure_when_no_axes(faces_15):
    X, y = faces_15
    before = plt.get_fignums()
    ax = plot_keypoints(X[0], y[0])
    assert ax.figure.number not in before
    assert len(ax.images) == 1


@pytest.mark.parametrize(
    ("image", "keypoints", "kwargs", "match"),
    [
        (np.zeros(64), np.zeros(29), {}, "even length"),
        (np.zeros(64), np.zeros((15, 3)), {}, r"\(n_keypoints, 2\)"),
        (np.zeros(64), np.zeros((0, 2)), {}, "empty"),
        (np.zeros(64), [0.0, np.inf], {}, "infinite"),
        (np.zeros(64), np.zeros(28), {"layout": KAGGLE_15}, "15 keypoints"),
        (np.zeros(63), np.zeros(30), {}, "not a square image"),
        (np.zeros(64), np.zeros(30), {"image_shape": (7, 9)}, "holds 63 pixels"),
        (np.zeros((8, 8)), np.zeros(30), {"image_shape": (4, 16)}, "image_shape"),
        (np.zeros((8, 8, 2)), np.zeros(30), {}, "RGB"),
        (np.zeros((2, 8, 8, 3)), np.zeros(30), {}, "got shape"),
    ],
)
def test_plot_keypoints_bad_input(image, keypoints, kwargs, match):
    ax = new_axes()
    with pytest.raises(ValueError, match=match):
        plot_keypoints(image, keypoints, ax=ax, **kwargs)
    assert len(ax.images) == 0 and len(ax.collections) == 0  # nothing half-drawn


def test_plot_keypoints_rejects_a_non_layout():
    with pytest.raises(TypeError, match="KeypointLayout"):
        plot_keypoints(np.zeros(64), np.zeros(30), layout="kaggle", ax=new_axes())


@settings(max_examples=30, deadline=None)
@given(
    points=arrays(
        float,
        st.sampled_from([(3, 2), (15, 2), (68, 2)]),
        elements=st.floats(-5, 60, allow_nan=False),
    ),
    data=st.data(),
)
def test_plot_keypoints_draws_exactly_the_annotated_points(points, data):
    mask = data.draw(arrays(bool, points.shape))
    points = np.where(mask, np.nan, points)
    ax = new_axes()
    plot_keypoints(np.zeros((48, 48)), points, ax=ax)
    annotated = ~np.isnan(points).any(axis=1)
    np.testing.assert_array_equal(scatter_offsets(ax), points[annotated])
    drawn = segments(ax)
    layout = {15: KAGGLE_15, 68: IBUG_68}.get(len(points))
    assert len(drawn) == (0 if layout is None else len(expected_segments(points, layout)))
    if drawn:
        assert np.isfinite(np.concatenate(drawn)).all()


# -- plot_ced -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def predictions():
    _, y = make_faces(30, image_size=64, random_state=0, return_X_y=True)
    rng = np.random.default_rng(0)
    return y, {"good": y + rng.normal(0, 0.5, y.shape), "bad": y + rng.normal(0, 2.5, y.shape)}


def test_plot_ced_lines_match_ced_curve(predictions):
    y, methods = predictions
    ax = plot_ced(y, methods, threshold=0.1, n_thresholds=21, ax=new_axes())
    assert len(ax.lines) == 2
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    for line, text, (name, y_pred) in zip(ax.lines, texts, methods.items()):
        thresholds, fractions = ced_curve(y, y_pred, threshold=0.1, n_thresholds=21)
        np.testing.assert_array_equal(line.get_xdata(), thresholds)
        np.testing.assert_array_equal(line.get_ydata(), fractions)
        assert text.startswith(name)
        assert f"{ced_auc(y, y_pred, threshold=0.1):.3f}" in text
        assert f"{failure_rate(y, y_pred, threshold=0.1):.1%}" in text
    assert ax.get_xlim() == (0.0, 0.1)
    assert ax.get_ylim() == (0.0, 1.0)
    assert ax.get_xlabel() == "NME (inter-ocular)"
    assert ax.get_ylabel() == "fraction of faces"


def test_plot_ced_single_prediction_and_label(predictions):
    y, methods = predictions
    ax = plot_ced(y, methods["good"], ax=new_axes())
    assert len(ax.lines) == 1
    assert ax.get_legend().get_texts()[0].get_text().startswith("prediction (")
    thresholds, fractions = ced_curve(y, methods["good"])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), fractions)
    ax = plot_ced(y, methods["good"], label="cnn", linewidth=3, ax=new_axes())
    assert ax.get_legend().get_texts()[0].get_text().startswith("cnn (")
    assert ax.lines[0].get_linewidth() == 3


def test_plot_ced_reuses_axes_and_warns_once_for_faces_left_out(predictions):
    y, methods = predictions
    y = y.copy()
    y[0, :2] = np.nan  # no inter-ocular distance for the first face
    ax = new_axes()
    with pytest.warns(UserWarning, match="left out") as record:
        assert plot_ced(y, methods["good"], ax=ax) is ax
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plot_ced(y, {"bad": methods["bad"]}, ax=ax)
    assert len(ax.lines) == 2


def test_plot_ced_bad_input(predictions):
    y, methods = predictions
    ax = new_axes()
    with pytest.raises(ValueError, match="empty dict"):
        plot_ced(y, {}, ax=ax)
    with pytest.raises(ValueError, match="same shape"):
        plot_ced(y, methods["good"][:, :20], ax=ax)
    with pytest.raises(ValueError, match="same shape"):
        plot_ced(y, {"good": methods["good"], "short": methods["good"][:5]}, ax=ax)
    with pytest.raises(ValueError, match="label"):
        plot_ced(y, methods, label="x", ax=ax)
    with pytest.raises(ValueError, match="threshold"):
        plot_ced(y, methods, threshold=0, ax=ax)
    with pytest.raises(ValueError, match="15 keypoints"):
        plot_ced(y[:, :28], methods["good"][:, :28], layout=KAGGLE_15, ax=ax)
    assert len(ax.lines) == 0


# -- plot_history ---------------------------------------------------------------------

HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "valid_loss": 1.2, "dur": 0.1},
    {"epoch": 2, "train_loss": 0.5, "dur": 0.1},
    {"epoch": 3, "train_loss": 0.4, "valid_loss": 0.8, "dur": 0.1},
]


def test_plot_history_list_of_dicts():
    ax = new_axes()
    assert plot_history(HISTORY, ax=ax) is ax
    train, valid = ax.lines
    assert (train.get_label(), valid.get_label()) == ("train_loss", "valid_loss")
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(train.get_ydata(), [0.9, 0.5, 0.4])
    # A key missing in some epochs is drawn where it was recorded.
    np.testing.assert_array_equal(valid.get_xdata(), [1, 3])
    np.testing.assert_array_equal(valid.get_ydata(), [1.2, 0.8])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train_loss", "valid_loss"]
    assert ax.get_xlabel() == "epoch" and ax.get_yscale() == "linear"


def test_plot_history_skorch_history_skips_missing_keys():
    history = History()
    for loss in (0.8, 0.3):
        history.new_epoch()
        history.record("epoch", len(history))
        history.record("train_loss", loss)
        history.new_batch()
        history.record_batch("train_loss", loss)
    ax = plot_history(history, ax=new_axes())
    (train,) = ax.lines  # no valid_loss recorded
    np.testing.assert_array_equal(train.get_xdata(), [1, 2])
    np.testing.assert_array_equal(train.get_ydata(), [0.8, 0.3])


def test_plot_history_keys_logy_and_epochs_from_position():
    history = [{"lr": 0.1}, {"lr": 0.01}]
    ax = plot_history(history, keys="lr", logy=True, ax=new_axes())
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2])
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "value"


def test_plot_history_fitted_regressor():
    from skfkd import FacialKeypointRegressor

    X, y = make_faces(40, image_size=32, random_state=0, return_X_y=True)
    with pytest.raises(NotFittedError, match="not fitted"):
        plot_history(FacialKeypointRegressor(), ax=new_axes())
    model = FacialKeypointRegressor(max_epochs=2, train_split=None, device="cpu", random_state=0).fit(X, y)
    ax = plot_history(model, ax=new_axes())
    (train,) = ax.lines
    np.testing.assert_array_equal(train.get_xdata(), [1, 2])
    np.testing.assert_allclose(train.get_ydata(), model.history_[:, "train_loss"])


def test_plot_history_bad_input():
    ax = new_axes()
    with pytest.raises(
        ValueError, match=r"none of the keys \['val_acc'\].*\['dur', 'train_loss', 'valid_loss'\]"
    ):
        plot_history(HISTORY, keys=("val_acc",), ax=ax)
    with pytest.raises(ValueError, match="empty"):
        plot_history([], ax=ax)
    with pytest.raises(ValueError, match="keys is empty"):
        plot_history(HISTORY, keys=(), ax=ax)
    with pytest.raises(ValueError, match="not a number"):
        plot_history([{"epoch": 1, "train_loss": "x"}], ax=ax)
    with pytest.raises(ValueError, match="positive"):
        plot_history([{"epoch": 1, "train_loss": 0.0}], logy=True, ax=ax)
    with pytest.raises(TypeError, match="dicts"):
        plot_history([1.0, 2.0], ax=ax)
    with pytest.raises(TypeError, match="History"):
        plot_history(3, ax=ax)
    assert len(ax.lines) == 0


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r"pip install skfkd\[plot\]"):
        plot_history(HISTORY)
