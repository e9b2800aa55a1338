"""The PyTorch loader against files real PyTorch wrote, and against hostile pickles.

Truth comes from PyTorch itself: ``scripts/make_torch_fixtures.py`` recorded each model's
state-dict names and shapes, forward-hook output shapes per module path, and kernel
slices as PyTorch indexes them. Torch is not needed here. The hostile pickles are written
in this file, opcode by opcode, with nothing but the standard library.
"""

from __future__ import annotations

import json
import pickle
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, cli, cli_json, load_truth
from cnninspect.errors import BrokenFile, UnrecognisedFile
from cnninspect.loaders import open_model
from cnninspect.loaders._unpickle import Opaque, load

TORCH = FIXTURES / "torch"
# file → (model whose truth it carries, format, holds an architecture)
FILES = {
    "small_cnn_state.pt": ("small_cnn", "pytorch-zip", False),
    "small_cnn_checkpoint.pth": ("small_cnn", "pytorch-zip", False),
    "small_cnn_module.pt": ("small_cnn", "pytorch-zip", True),
    "small_cnn_legacy.pt": ("small_cnn", "pytorch-legacy", False),
    "small_cnn_script.pt": ("small_cnn", "torchscript", True),
    "small_cnn_renamed.pth": ("small_cnn", "pytorch-zip", False),
    "mixed_state.pt": ("mixed", "pytorch-zip", False),
    "mixed_module.pt": ("mixed", "pytorch-zip", True),
    "mixed_module_legacy.pt": ("mixed", "pytorch-legacy", True),
    "mixed_script.pt": ("mixed", "torchscript", True),
    "grouped_transpose_module.pt": ("grouped_transpose", "pytorch-zip", True),
}
MODULES = [f for f, (_, _, arch) in FILES.items() if arch]


def _truth(file: str) -> dict:
    return load_truth(TORCH / f"{FILES[file][0]}.truth.json")


@pytest.mark.parametrize("file", FILES)
def test_every_state_dict_tensor_with_pytorchs_names_shapes_and_values(file: str) -> None:
    truth = _truth(file)
    with open_model(TORCH / file) as model:
        assert model.source.format == FILES[file][1] and model.source.library == "pytorch"
        assert model.architecture is FILES[file][2]
        weights = {w.name: w for w in model.weights()}
        assert list(weights) == list(truth["state_dict"])
        for name, t in truth["state_dict"].items():
            w = weights[name]
            assert (list(w.shape), w.dtype) == (t["shape"], t["dtype"]), name
            assert w.trainable is (name.rsplit(".", 1)[-1] not in ("running_mean", "running_var", "num_batches_tracked"))
            if name in truth["first_values"]:
                np.testing.assert_allclose(w.read(()).reshape(-1)[:4], truth["first_values"][name], rtol=1e-6)


PICKLED = [f for f in MODULES if FILES[f][1] != "torchscript"]
SCRIPTED = [f for f in MODULES if FILES[f][1] == "torchscript"]


@pytest.mark.parametrize("file", SCRIPTED)
def test_scripted_forward_code_shapes_match_forward_hooks(file: str) -> None:
    """A TorchScript file's graph is its forward() code: one layer per leaf module call,
    named as named_modules() names it, with the shape PyTorch's hook saw."""
    truth = _truth(file)
    report = cli_json("shapes", TORCH / file, "--input-shape", ",".join(map(str, truth["input_shape"])), "--batch", "1")
    rows = {row["name"]: row for row in report["layers"]}
    paths = list(truth["modules"])
    leaves = {p: t for p, t in truth["modules"].items() if not any(q.startswith(p + "/") for q in paths)}
    assert {p.replace("/", "."): t for p, t in leaves.items()} == {p.replace("/", "."): rows[p.replace("/", ".")]["type"] for p in leaves}
    for path in leaves:
        assert rows[path.replace("/", ".")]["output_shapes"] == [truth["output_shapes"][path]], path
    assert any("forward() code" in n for n in report["notes"])


@pytest.mark.parametrize("file", PICKLED)
def test_module_tree_shapes_match_forward_hooks(file: str) -> None:
    truth = _truth(file)
    report = cli_json("shapes", TORCH / file, "--input-shape", ",".join(map(str, truth["input_shape"])), "--batch", "1")
    rows = {row["path"]: row for row in report["layers"] if not row["synthetic"]}
    assert {p: r["type"] for p, r in rows.items()} == truth["modules"]
    for path, shape in truth["output_shapes"].items():
        assert rows[path]["output_shapes"] == [shape], path
    assert any("registration order" in n for n in report["notes"])


@pytest.mark.parametrize("file", MODULES)
def test_without_input_shape_the_shapes_are_unknown_and_say_why(file: str) -> None:
    report = cli_json("shapes", TORCH / file)
    assert report["inputs"][0]["shape"] is None
    assert "--input-shape" in report["layers"][0]["unknown_reason"]
    assert any("--input-shape" in n for n in report["notes"])


@pytest.mark.parametrize("file", MODULES + ["small_cnn_state.pt", "mixed_state.pt", "small_cnn_legacy.pt"])
def test_filters_give_pytorchs_own_slices(file: str) -> None:
    truth = _truth(file)
    architecture = FILES[file][2]
    rows = {row["path"]: row["index"] for row in cli_json("shapes", TORCH / file)["layers"]}
    tree = architecture and file not in SCRIPTED  # a module tree keeps containers; graphs and state dicts dotted names
    for path, s in truth["slices"].items():
        # #N: always the index (a bare digit-only name like '0' in an nn.Sequential is ambiguous)
        layer = f"#{rows[path if tree else path.replace('/', '.')]}"
        report = cli_json("filters", TORCH / file, "--layer", layer, "--out", str(s["out"]))
        # the report spells trailing axes out (weight[:, 3, :, :] for PyTorch's weight[:, 3])
        assert re.sub(r"(, :)+\]$", "]", report["native_slice"]) == s["native_slice"], path
        values = np.array([e["filter"] for e in report["inputs"]])
        np.testing.assert_allclose(values, np.array(s["values"]), rtol=1e-6)
        if s["bias"] is not None:
            assert report["bias"] == pytest.approx(s["bias"], rel=1e-6)
        if architecture and s["groups"] > 1:
            assert f"({s['groups']} groups)" in " ".join(report["notes"])


def test_module_hyperparameters_become_neutral_attrs() -> None:
    with open_model(TORCH / "mixed_module.pt") as model:
        conv, dw, tconv = (model.graph.layer(n) for n in ("0", "3", "4"))
        assert (conv.op, conv.attrs["strides"], conv.attrs["padding"]) == ("conv", [2, 2], [(1, 1), (1, 1)])
        assert conv.attrs["channels_last"] is False and conv.weight("bias") is None
        assert (dw.attrs["groups"], dw.weight("weight").layout.code) == (6, "OIHW")
        assert (tconv.op, tconv.weight("weight").layout.code) == ("conv_transpose", "IOHW")
        assert model.graph.layer("1").weight("running_var").trainable is False


def test_checkpoint_says_where_the_weights_were() -> None:
    report = cli_json("shapes", TORCH / "small_cnn_checkpoint.pth")
    note = next(n for n in report["notes"] if "checkpoint" in n)
    assert "'model'" in note and "epoch=3" in note and "optimizer" in note
    assert "momentum_buffer" not in json.dumps(report["layers"])


def test_weights_stats_and_sniffing_by_content(tmp_path: Path) -> None:
    stats = cli_json("weights", TORCH / "small_cnn_legacy.pt", "--stats")
    assert stats["tensors"] and all("error" not in t["stats"] for t in stats["tensors"])
    odd = tmp_path / "weights.bin"
    odd.write_bytes((TORCH / "small_cnn_renamed.pth").read_bytes())
    with open_model(odd) as model:
        assert model.source.format == "pytorch-zip" and len(list(model.weights())) == 6


def test_renamed_top_folder_and_archive_version() -> None:
    with zipfile.ZipFile(TORCH / "small_cnn_renamed.pth") as zf:
        assert zf.namelist()[0].startswith("mnist_cnn/")
        version = zf.read("mnist_cnn/version").decode().strip()
    with open_model(TORCH / "small_cnn_renamed.pth") as model:
        # the zip's version record is the serialization format, labelled as such: no PyTorch version is stored
        assert model.source.library_version is None and model.source.format_version == f"archive format {version}"


# ---------------------------------------------------------------------------------------
# Hostile pickles: nothing in them may run


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _call(module: str, name: str, *args: str) -> bytes:
    """``module.name(*args)`` as GLOBAL, MARK, args, TUPLE, REDUCE."""
    return _global(module, name) + b"(" + b"".join(_str(a) for a in args) + b"tR"


def _tensor(key: str, numel: int) -> bytes:
    """A 1-D float tensor on storage ``key``, as PyTorch's zip format pickles it."""
    pid = b"(" + _str("storage") + _global("torch", "FloatStorage") + _str(key) + _str("cpu") + b"K" + bytes([numel]) + b"tQ"
    args = pid + b"K\x00" + b"K" + bytes([numel]) + b"\x85" + b"K\x01\x85" + b"\x89" + _global("collections", "OrderedDict") + b")R"
    return _global("torch._utils", "_rebuild_tensor_v2") + b"(" + args + b"tR"


def _evil(marker: Path) -> bytes:
    """{"epoch": os.system('touch m1'), "opened": builtins.open(m2, 'w'),
    "hook": builtins.eval(...), "model": {"fc.weight": tensor}}"""
    body = (
        _str("epoch") + _call("os", "system", f"touch {marker}.system")
        + _str("opened") + _call("builtins", "open", f"{marker}.open", "w")
        + _str("hook") + _call("builtins", "eval", f"open('{marker}.eval', 'w')")
        + _str("posix") + _call("posix", "system", f"touch {marker}.posix")
        + _str("model") + b"}(" + _str("fc.weight") + _tensor("0", 4) + b"u"
    )  # fmt: skip
    return b"\x80\x02}(" + body + b"u."


def _evil_zip(path: Path, marker: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", _evil(marker))
        zf.writestr("archive/data/0", np.arange(4, dtype="<f4").tobytes())
        zf.writestr("archive/version", "3\n")
    return path


def _no_marker(marker: Path) -> None:
    assert not list(marker.parent.glob(marker.name + "*")), "a pickle ran code"


def test_the_hostile_pickle_really_runs_code_with_plain_pickle(tmp_path: Path) -> None:
    """The control: the same bytes do create the marker when Python's pickle loads them."""
    marker = tmp_path / "control"
    with pytest.raises(Exception):  # noqa: B017 (any error: the tensor rebuild needs torch; the calls before it ran)
        pickle.loads(_evil(marker))
    assert (tmp_path / "control.system").exists() and (tmp_path / "control.open").exists()


def test_a_hostile_checkpoint_is_read_without_running_anything(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _evil_zip(tmp_path / "evil.pt", marker)
    with open_model(path) as model:
        [weight] = list(model.weights())
        assert (weight.name, weight.shape) == ("fc.weight", (4,))
        np.testing.assert_array_equal(weight.read(()), [0, 1, 2, 3])
    _no_marker(marker)
    result = cli("shapes", path)
    assert result.exit_code == 0, result.stderr
    _no_marker(marker)
    obj, unpickler = load(_evil(marker))
    assert isinstance(obj["epoch"], Opaque) and obj["epoch"].qualname() == "os.system"
    assert obj["opened"].args == (f"{marker}.open", "w")
    assert "builtins.eval" in unpickler.globals_seen
    _no_marker(marker)


def test_a_pickle_with_no_weights_is_refused_by_name(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + _call("os", "system", f"touch {marker}.x") + b".")
    with pytest.raises(UnrecognisedFile, match="os.system"):
        open_model(path)
    _no_marker(marker)


def test_lying_tensors_and_truncated_storages_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "lying.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}(" + _str("w") + _tensor("0", 64) + b"u.")
        zf.writestr("archive/data/0", b"\x00" * 16)  # 4 floats where 64 are claimed
    with pytest.raises(BrokenFile, match="truncated"):
        open_model(path)
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes((TORCH / "small_cnn_legacy.pt").read_bytes()[:-100])
    with pytest.raises(BrokenFile):
        with open_model(legacy) as model:
            [w.read(()) for w in model.weights()]


def _script_v1(path: Path, top: str = "model") -> Path:
    """A TorchScript 1.0 archive as PyTorch 1.0/1.1 wrote them (``torch.save`` of that era
    cannot be installed any more): ``model.json`` is a ModelDef in protobuf's JSON form,
    int64 fields as strings, tensors' bytes in ``tensors/N``. It imitates the format
    description in torch/csrc/jit/export.cpp and the fields of caffe2's TensorProto."""
    conv = np.arange(2 * 1 * 3 * 3, dtype="<f4").reshape(2, 1, 3, 3)
    fc = np.arange(6, dtype="<f4").reshape(3, 2) / 10
    tensors = [
        {"dims": ["2", "1", "3", "3"], "offset": "0", "strides": ["9", "9", "3", "1"], "requiresGrad": True,
         "dataType": "FLOAT", "data": {"key": "tensors/0"}, "device": "cpu"},
        {"dims": ["3", "2"], "offset": "0", "strides": ["2", "1"], "requiresGrad": True,
         "dataType": "FLOAT", "data": {"key": "tensors/1"}, "device": "cpu"},
    ]  # fmt: skip
    doc = {
        "protoVersion": "2",
        "mainModule": {
            "name": "model",
            "submodules": [
                {"name": "conv", "parameters": [{"isBuffer": False, "tensorId": "0", "name": "weight"}]},
                {"name": "fc", "parameters": [{"isBuffer": False, "tensorId": "1", "name": "weight"}]},
            ],
            "torchscriptArena": {"key": "code/model.py"},
        },
        "producerName": "pytorch",
        "producerVersion": "1.0",
        "tensors": tensors,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{top}/version", "1\n")
        zf.writestr(f"{top}/model.json", json.dumps(doc))
        zf.writestr(f"{top}/code/model.py", "def forward(self, x):\n  return x\n")
        zf.writestr(f"{top}/tensors/0", conv.tobytes())
        zf.writestr(f"{top}/tensors/1", fc.tobytes())
    return path


def test_torchscript_1_0_model_json(tmp_path: Path) -> None:
    with open_model(_script_v1(tmp_path / "old_script.pt")) as model:
        assert (model.source.format, model.source.library_version) == ("torchscript", "1.0")
        assert [w.name for w in model.weights()] == ["conv.weight", "fc.weight"]
        conv = model.graph.layer("conv").weight("weight")
        assert conv.layout.code == "OIHW"
        np.testing.assert_array_equal(conv.read((1,)), np.arange(9, 18, dtype="f4").reshape(1, 3, 3))
        np.testing.assert_allclose(model.graph.layer("fc").weight("weight").read((2,)), [0.4, 0.5])
        assert any("model.json" in n for n in model.notes)


def _pickle_zip(path: Path, body: bytes, storages: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + body + b".")
        for key, raw in storages.items():
            zf.writestr(f"archive/data/{key}", raw)
    return path


def test_gan_checkpoints_and_tensors_nested_anywhere(tmp_path: Path) -> None:
    data = {"0": np.zeros(4, "<f4").tobytes(), "1": np.ones(4, "<f4").tobytes()}
    gan = b"}(" + _str("netG") + b"}(" + _str("fc.weight") + _tensor("0", 4) + b"u" \
        + _str("netD") + b"}(" + _str("fc.weight") + _tensor("1", 4) + b"u" + _str("epoch") + b"K\x07u"  # fmt: skip
    with open_model(_pickle_zip(tmp_path / "gan.pth", gan, data)) as model:
        assert [w.name for w in model.weights()] == ["netG.fc.weight", "netD.fc.weight"]
        assert any("2 state dicts" in n for n in model.notes)
    nested = b"}(" + _str("ema") + b"(" + _tensor("0", 4) + _tensor("1", 4) + b"lu"
    with open_model(_pickle_zip(tmp_path / "nested.pth", nested, data)) as model:
        assert [w.name for w in model.weights()] == ["ema.0", "ema.1"]
        np.testing.assert_array_equal(list(model.weights())[1].read(()), np.ones(4))


def test_a_hostile_legacy_stream_runs_nothing(tmp_path: Path) -> None:
    """The pre-1.6 stream: magic number, protocol, sys_info, then the hostile object."""
    marker = tmp_path / "pwned"
    magic = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    header = magic + b"\x80\x02M\xe9\x03." + b"\x80\x02}(" + _str("little_endian") + b"\x88u."
    keys = b"\x80\x02(" + _str("0") + b"l."
    path = tmp_path / "legacy_evil.pt"
    path.write_bytes(header + _evil(marker) + keys + struct.pack("<q", 4) + np.arange(4, dtype="<f4").tobytes())
    with open_model(path) as model:
        [weight] = list(model.weights())
        assert model.source.format == "pytorch-legacy"
        np.testing.assert_array_equal(weight.read((slice(1, 3),)), [1, 2])
    _no_marker(marker)


def test_a_huge_memo_index_is_no_denial_of_service(tmp_path: Path) -> None:
    """``LONG_BINPUT 2**31-1``: the C unpickler would grow its memo array to that size."""
    body = b"}(" + _str("w") + _tensor("0", 4) + b"r\xff\xff\xff\x7fu"
    start = __import__("time").monotonic()
    with open_model(_pickle_zip(tmp_path / "memo.pt", body, {"0": bytes(16)})) as model:
        assert [w.name for w in model.weights()] == ["w"]
    assert __import__("time").monotonic() - start < 5


def test_old_parameters_and_builds_on_tensors(tmp_path: Path) -> None:
    """``Parameter(tensor, True)`` by REDUCE and by NEWOBJ, and a BUILD that tries to
    overwrite a rebuilt tensor's shape: the tensor stays as its storage describes it."""
    reduce = _global("torch.nn.parameter", "Parameter") + b"(" + _tensor("0", 4) + b"\x88tR"
    newobj = _global("torch.nn.parameter", "Parameter") + b"(" + _tensor("0", 4) + b"\x88t\x81"
    build = _tensor("0", 4) + b"}(" + _str("shape") + _str("huge") + b"ub"
    body = b"}(" + _str("a.weight") + reduce + _str("b.weight") + newobj + _str("c.weight") + build + b"u"
    with open_model(_pickle_zip(tmp_path / "old.pt", body, {"0": np.arange(4, dtype="<f4").tobytes()})) as model:
        weights = list(model.weights())
        assert [(w.name, w.shape) for w in weights] == [("a.weight", (4,)), ("b.weight", (4,)), ("c.weight", (4,))]
        np.testing.assert_array_equal(weights[2].read(()), np.arange(4))


def test_a_module_is_selected_by_its_dotted_named_modules_name() -> None:
    """``features.2`` is how PyTorch names the module the tree shows at features/2."""
    by_path = cli_json("filters", TORCH / "small_cnn_module.pt", "--layer", "features/2", "--out", "5")
    dotted = cli_json("filters", TORCH / "small_cnn_module.pt", "--layer", "features.2", "--out", "5")
    assert dotted["layer"]["path"] == "features/2" and dotted["inputs"] == by_path["inputs"]
