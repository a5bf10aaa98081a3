"""Model files made by an attacker or damaged by accident: nothing in them runs, nothing hangs.

Each test crafts its file here, from types that skfkd trusts, so that the refusal under
test is skfkd's own check and not skops's type check.
"""

import io
import json
import struct
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skorch.dataset import Dataset, ValidSplit

from skfkd.cli import main
from skfkd.deploy import load_model, save_model
from skfkd.deploy._persist import FILE_FORMAT, _SavedNetwork
from skfkd.faces import FaceLandmarker
from skfkd.neural import regressor_from_state, regressor_to_state


def _write_state(state, path):
    """A model file exactly as save_model writes one, around a hand-made regressor state."""
    import skfkd

    saved = _SavedNetwork()
    saved.__dict__.update(state)
    sio.dump(
        {"skfkd_model_file": FILE_FORMAT, "skfkd_version": skfkd.__version__, "model": saved},
        path,
        compression=zipfile.ZIP_DEFLATED,
    )


@pytest.fixture(scope="module")
def state(fitted):
    return regressor_to_state(fitted)


def test_the_compile_options_attack_is_refused_and_runs_nothing(state, tmp_path, faces):
    # skorch's torch.compile puts compile__options on a C++ compiler's command line: with
    # "-wrapper sh,-c,..." the compiler would run a shell command at the first predict.
    marker = tmp_path / "pwned"
    options = {"cpp.march": f"native -wrapper sh,-c,touch\\ {marker}"}
    params = {**state["params"], "compile": True, "compile__options": options, "compile__dynamic": False}
    _write_state({**state, "params": params}, tmp_path / "evil.skops")
    with pytest.raises(ValueError, match="'compile' must keep its default") as refused:
        load_model(tmp_path / "evil.skops")
    assert "Nothing was loaded" in str(refused.value)
    assert main(["predict", str(tmp_path / "evil.skops"), str(tmp_path / "x.png")]) == 2
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("callbacks", [("spy", Dataset)]),
        ("callbacks__print_log__sink", Dataset),
        ("module", Dataset),
        ("criterion", torch.optim.AdamW),
        ("optimizer", Dataset),
        ("iterator_train", torch.optim.AdamW),
        ("iterator_train__num_workers", 64),
        ("iterator_valid__collate_fn", "os.system"),
        ("dataset", torch.utils.data.DataLoader),
        ("predict_nonlinearity", Dataset),
        ("torch_load_kwargs", {"weights_only": False}),
        ("train_split", Dataset),
        ("device", "meta"),
        ("device", "xla:0"),
        ("module__widths", Dataset),
        ("optimizer__foreach", True),
        ("criterion__reduction", Dataset),
        ("use_caching", Dataset),
    ],
)
def test_every_parameter_that_reaches_code_is_refused_by_name(state, tmp_path, name, value):
    _write_state({**state, "params": {**state["params"], name: value}}, tmp_path / "evil.skops")
    with pytest.raises(ValueError, match=f"{name.split('__')[0]}") as refused:
        load_model(tmp_path / "evil.skops")
    assert "Nothing was loaded, and nothing from the file has run" in str(refused.value)
    assert name in str(refused.value) or name.split("__")[0] in str(refused.value)


def test_a_trusted_class_may_replace_a_default_one_only_by_name(state, tmp_path):
    params = {**state["params"], "optimizer": torch.optim.Adam}
    with pytest.raises(ValueError, match="'optimizer' is torch.optim.adam.Adam"):
        regressor_from_state({**state, "params": params})
    rebuilt = regressor_from_state({**state, "params": params}, trusted=["torch.optim.adam.Adam"])
    assert rebuilt.optimizer is torch.optim.Adam


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"params": {"batch_size": 0}}, "'batch_size' parameter of FacialKeypointRegressor must be an int"),
        ({"params": {"latent_dim": 10**9}}, r"its network needs \(1000000000, 384\)"),
        ({"params": {"train_split": ValidSplit(cv=7.5)}}, "train_split has values that are not accepted"),
        ({"attributes": {"n_outputs_": 31}}, "n_outputs_ must be even|weights do not fit"),
        ({"attributes": {"image_shape_": (10**6, 10**6)}}, "image_shape_ does not hold n_features_in_"),
        ({"attributes": {"n_channels_": 2}}, r"n_channels_ must be 1 \(gray\) or 3 \(RGB\)"),
        ({"attributes": {"n_channels_": 3}}, "image_shape_ does not hold n_features_in_"),
        ({"attributes": {"input_std_": float("nan")}}, "input_std_ must be a finite positive number"),
        ({"attributes": {"predict": "anything"}}, "attributes a model file may not set: predict"),
        ({"estimator_class": "builtins.object"}, "not trusted"),
        ({"estimator_class": "skfkd.faces.FaceLandmarker"}, "is not a FacialKeypointRegressor"),
    ],
)
def test_out_of_range_or_unknown_stored_values_are_refused(state, tmp_path, change, message):
    changed = {**state}
    for key, update in change.items():
        changed[key] = {**state[key], **update} if isinstance(update, dict) else update
    _write_state(changed, tmp_path / "bad.skops")
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "bad.skops")


def test_a_stored_landmarker_parameter_that_would_hang_predict_is_refused(tmp_path):
    from skfkd.baselines import MeanKeypointRegressor
    from skfkd.datasets import make_faces

    faces = make_faces(20, random_state=0)
    photos, keypoints = list(faces.data.reshape(-1, 96, 96)), faces.target.reshape(-1, 15, 2)
    landmarker = FaceLandmarker(MeanKeypointRegressor(), n_calibration=0).fit(photos, keypoints)
    landmarker.n_refinements = 10**9  # as a crafted file would set it: skops sets attributes directly
    save_model(landmarker, tmp_path / "hang.skops")
    with pytest.raises(
        ValueError, match="'n_refinements' parameter of FaceLandmarker must be an int in the range"
    ):
        load_model(tmp_path / "hang.skops")
    # Set on a loaded model, it is refused where it is used.
    landmarker.n_refinements = 1
    save_model(landmarker, tmp_path / "ok.skops")
    loaded = load_model(tmp_path / "ok.skops")
    loaded.n_refinements = 10**9
    with pytest.raises(ValueError, match="n_refinements"):
        loaded.predict(photos[:1], boxes=[[[20.0, 20.0, 56.0, 56.0]]])


# -- decompression bombs ------------------------------------------------------------------


def _raw_zip(path, entries):
    """A zip archive of ``(name, method, data, crc, uncompressed size)`` entries, written by
    hand so that a deflated entry can be a prepared stream (a bomb) rather than compressed here."""
    with open(path, "wb") as out:
        directory = []
        for name, method, data, crc, size in entries:
            offset = out.tell()
            encoded = name.encode()
            out.write(
                struct.pack(
                    "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), size, len(encoded), 0
                )
            )
            out.write(encoded + data)
            directory.append((encoded, method, crc, len(data), size, offset))
        start = out.tell()
        for encoded, method, crc, compressed, size, offset in directory:
            out.write(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    20,
                    20,
                    0,
                    method,
                    0,
                    0,
                    crc,
                    compressed,
                    size,
                    len(encoded),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
                + encoded
            )
        end = out.tell()
        out.write(
            struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(directory), len(directory), end - start, start, 0)
        )


def _deflated_bomb(prefix, n_zeros, chunk=2**24):
    """A raw deflate stream of ``prefix`` then ``n_zeros`` zero bytes, and its CRC, made
    without deflating all the zeros: after a full flush the compressor starts afresh, so
    every chunk of zeros compresses to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    piece = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(n_zeros // chunk):
        crc = zlib.crc32(bytes(chunk), crc)
    return stream + piece * (n_zeros // chunk) + compressor.flush(), crc


def test_a_decompression_bomb_is_refused_before_it_is_decompressed(tmp_path):
    n_zeros = 2**31  # 2 GiB of float64 zeros behind a 2 MB file; load_model allows 1 GiB
    header = {"descr": "<f8", "fortran_order": False, "shape": (n_zeros // 8,)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)  # magic string included
    prefix = buffer.getvalue()
    stream, crc = _deflated_bomb(prefix, n_zeros)
    schema = json.dumps(
        {
            "__class__": "ndarray",
            "__module__": "numpy",
            "__loader__": "NdArrayNode",
            "type": "numpy",
            "file": "bomb.npy",
            "protocol": 3,
            "_skops_version": "0.16.0",
        }
    ).encode()
    _raw_zip(
        tmp_path / "bomb.skops",
        [
            ("schema.json", 0, schema, zlib.crc32(schema), len(schema)),
            ("bomb.npy", 8, stream, crc, len(prefix) + n_zeros),
        ],
    )
    assert (tmp_path / "bomb.skops").stat().st_size < 5 * 2**20
    with zipfile.ZipFile(tmp_path / "bomb.skops") as archive:  # a real archive that declares 2 GiB
        assert archive.getinfo("bomb.npy").file_size == len(prefix) + n_zeros
        with archive.open("bomb.npy") as member:  # whose stream really holds the zeros
            assert member.read(len(prefix) + 10) == prefix + bytes(10)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than max_bytes=1,073,741,824 bytes once decompressed"):
            load_model(tmp_path / "bomb.skops")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20


def test_an_array_entry_named_many_times_counts_each_time(tmp_path):
    array = np.zeros(2**17)  # 1 MiB
    sio.dump([array], tmp_path / "one.skops")
    with zipfile.ZipFile(tmp_path / "one.skops") as archive:
        schema = json.loads(archive.read("schema.json"))
        files = {name: archive.read(name) for name in archive.namelist() if name != "schema.json"}
    node = schema["content"][0]
    schema["content"] = [dict(node, __id__=i) for i in range(3000)]  # 3000 copies of 1 MiB
    with zipfile.ZipFile(tmp_path / "many.skops", "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="more than max_bytes"):
        load_model(tmp_path / "many.skops")


# -- pickles through the command line ------------------------------------------------------


class _Trap:
    """Unpickling this touches a file: proof that the pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path(self.marker).touch, ())


@pytest.mark.parametrize("name", ["model.bin", "model", "model.skops.bak", "model.joblib", "model.pkl"])
def test_the_cli_refuses_pickles_whatever_their_name(tmp_path, capsys, name):
    marker = tmp_path / "unpickled"
    joblib.dump(_Trap(marker), tmp_path / name)
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(np.zeros((40, 40), np.uint8)).save(photo)
    data = ["--data", "synthetic", "--n-samples", "20"]
    for argv in (
        ["predict", str(tmp_path / name), str(photo), "--out", str(tmp_path / "out")],
        ["evaluate", str(tmp_path / name), *data],
        ["export", str(tmp_path / name), "--skops", str(tmp_path / "out.skops")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "--trust-pickle" in err and "runs whatever code it holds" in err, err
    assert not marker.exists()
    # With the flag, the user has vouched for the file: it is unpickled (and is no model).
    assert main(["evaluate", str(tmp_path / name), *data, "--trust-pickle"]) == 2
    assert marker.exists()


# -- any change to a file's schema ---------------------------------------------------------

SENTINEL_SOURCE = """
import pathlib
pathlib.Path(__file__).with_name("imported").touch()


class Sentinel:
    def __new__(cls, *args, **kwargs):
        pathlib.Path(__file__).with_name("called").touch()
        return super().__new__(cls)

    def __setstate__(self, state):
        pathlib.Path(__file__).with_name("called").touch()

    def __call__(self, *args, **kwargs):
        pathlib.Path(__file__).with_name("called").touch()
"""


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory):
    """A module whose import, or the creation or call of its class, leaves a file behind."""
    folder = tmp_path_factory.mktemp("sentinel")
    (folder / "skfkd_sentinel.py").write_text(SENTINEL_SOURCE)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def saved_schema(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.skops"
    save_model(fitted, path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("schema.json")), files


def _paths(node, prefix=()):
    """Every place in a JSON document, as a path of keys and indices."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


_SENTINEL_NODE = {
    "__class__": "Sentinel",
    "__module__": "skfkd_sentinel",
    "__loader__": "ObjectNode",
    "content": {},
}
_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["Sentinel", "skfkd_sentinel", "ObjectNode", "TypeNode", "FunctionNode", "builtins"]),
    st.just(_SENTINEL_NODE),
    st.just(
        {"__class__": "Sentinel", "__module__": "skfkd_sentinel", "__loader__": "TypeNode", "content": {}}
    ),
    st.lists(st.integers(0, 3), max_size=3),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_schema_loads_a_valid_model_or_raises_a_documented_error(
    data, saved_schema, sentinel, tmp_path, faces, fitted
):
    schema, files = saved_schema
    schema = json.loads(json.dumps(schema))  # a copy to mutate
    places = [path for path in _paths(schema) if path]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(places))
        parent = schema
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = data.draw(_JUNK)
        places = [path for path in _paths(schema) if path]
    target = tmp_path / f"mutated_{data.draw(st.integers(0, 10**9))}.skops"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, content in files.items():
            archive.writestr(name, content)
    try:
        model = load_model(target)
    except ValueError:
        pass  # the documented error for a file that is not a loadable model
    else:
        # What loads is a regressor whose parameters pass its checks, and which
        # predicts finite keypoints or says why it cannot.
        assert type(model) is type(fitted)
        model._check_parameters()
        try:
            predictions = model.predict(faces.data[:4])
        except (ValueError, FloatingPointError):
            pass
        else:
            assert predictions.shape == (4, fitted.n_outputs_) and np.isfinite(predictions).all()
    assert not (sentinel / "imported").exists() and not (sentinel / "called").exists()
    assert "skfkd_sentinel" not in sys.modules
