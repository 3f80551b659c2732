"""ng.save / ng.load: bit-exact round trips of tensors and arrays, structures
and key types preserved, a Module's state dict through load_state_dict, and
every kind of damaged or foreign file raising the clear ValueError."""
import io
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.nn as nn

CORRUPT = r"ng\.load: .* is not an nthgrad checkpoint or is corrupt"


def same_bytes(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def special_floats(dtype):
    """-0.0, infinities, a subnormal, and NaNs with payloads (one signaling)."""
    if dtype == np.float32:
        nans = np.array([0x7FC00001, 0xFF812345], np.uint32).view(np.float32)
    else:
        nans = np.array([0x7FF8000000000123, 0xFFF0000000000001], np.uint64).view(np.float64)
    return np.concatenate([np.array([-0.0, np.inf, -np.inf, 1e-40, 3.5], dtype), nans])


def tensor_cases():
    rng = np.random.default_rng(0)
    return {
        "f32": ng.tensor(special_floats(np.float32), dtype=ng.float32),
        "f64": ng.tensor(special_floats(np.float64), dtype=ng.float64),
        "i64": ng.tensor(np.array([-2**63, 2**63 - 1, 0, -1], np.int64)),
        "bool": ng.tensor(np.array([[True, False], [False, True]])),
        "scalar": ng.tensor(np.float64(-0.0)),
        "empty": ng.zeros((0, 3)),
        "empty_i": ng.zeros((2, 0), dtype=ng.int64),
        "big": ng.tensor(rng.standard_normal((7, 5, 3)).astype(np.float32)),
        "grad": ng.tensor(np.ones(3), requires_grad=True),
    }


def roundtrip(obj, tmp_path, name="ckpt.npz"):
    path = tmp_path / name
    ng.save(obj, path)
    return ng.load(path)


def test_tensors_round_trip_bit_exactly(tmp_path):
    original = tensor_cases()
    loaded = roundtrip(original, tmp_path)
    assert list(loaded) == list(original)
    for key, t in original.items():
        got = loaded[key]
        assert isinstance(got, ng.Tensor) and got.dtype == t.dtype and got.shape == t.shape, key
        assert same_bytes(got.numpy(), t.numpy()), key
        assert not got.requires_grad


def test_numpy_arrays_and_scalars_round_trip(tmp_path):
    obj = {"f16": np.arange(6, dtype=np.float16).reshape(2, 3), "u8": np.arange(5, dtype=np.uint8),
           "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "str": np.array(["ab", "c"]),
           "i32": np.int32(-7), "f64": np.float64(-0.0)}
    loaded = roundtrip(obj, tmp_path)
    for key, value in obj.items():
        assert type(loaded[key]) is type(value), key
        assert same_bytes(loaded[key], value), key


def test_nested_structure_and_key_types(tmp_path):
    t = ng.tensor(np.arange(4.0))
    obj = {"state": {0: {"step": 3, "exp_avg": t}, 1: {}},
           "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False,
                             "name": "körper", "none": None, "eps": float("-inf")}],
           "z_first": 1, "a_second": 2, -5: "negative key", "big": 2**70,
           "odict": OrderedDict([("b", 1), ("a", 2)]), "empty": [], "t": ()}
    loaded = roundtrip(obj, tmp_path)
    assert list(loaded) == list(obj)  # order and int keys kept
    assert list(loaded["state"]) == [0, 1]
    group = loaded["param_groups"][0]
    assert group == {"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False, "name": "körper",
                     "none": None, "eps": float("-inf")}
    assert type(group["betas"]) is tuple and type(group["params"]) is list and type(group["nesterov"]) is bool
    assert loaded["big"] == 2**70 and loaded[-5] == "negative key"
    assert type(loaded["odict"]) is OrderedDict and list(loaded["odict"]) == ["b", "a"]
    assert loaded["empty"] == [] and loaded["t"] == ()
    assert loaded["state"][0]["step"] == 3
    assert same_bytes(loaded["state"][0]["exp_avg"].numpy(), t.numpy())


def test_python_floats_exact(tmp_path):
    values = [0.1, -0.0, float("nan"), 1e308, 5e-324, float("inf")]
    loaded = roundtrip(values, tmp_path)
    assert [v.hex() for v in loaded] == [v.hex() for v in values]


def test_file_objects_and_str_paths(tmp_path):
    buffer = io.BytesIO()
    ng.save({"x": ng.ones((2,))}, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(ng.load(buffer)["x"].numpy(), np.ones(2))
    path = str(tmp_path / "no_extension")
    ng.save([1, 2], path)
    assert os.path.exists(path) and ng.load(path) == [1, 2]  # the name is kept as given
    assert sorted(os.listdir(tmp_path)) == ["no_extension"]  # no temporary left behind


def test_saved_file_permissions_follow_the_umask_or_the_replaced_file(tmp_path):
    """As open()/np.savez/torch.save: a new checkpoint gets 0o666 less the
    umask (not mkstemp's 0o600), an overwritten one keeps its permissions."""
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "ckpt.npz"
        ng.save({"epoch": 1}, path)
        assert os.stat(path).st_mode & 0o777 == 0o644
        os.chmod(path, 0o600)  # made private by its owner: an overwrite keeps it private
        ng.save({"epoch": 2}, path)
        assert os.stat(path).st_mode & 0o777 == 0o600 and ng.load(path) == {"epoch": 2}
        assert os.listdir(tmp_path) == ["ckpt.npz"]
    finally:
        os.umask(old_umask)


def test_save_through_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "ckpt.npz"
    ng.save({"epoch": 1}, target)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    ng.save({"epoch": 2}, link)
    assert link.is_symlink() and ng.load(target) == {"epoch": 2}
    assert sorted(os.listdir(tmp_path / "runs")) == ["ckpt.npz"]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(ng.tensor(np.random.default_rng(1).standard_normal((3, 4)), dtype=ng.float32))
        self.sub = nn.Module()
        self.sub.bias = nn.Parameter(ng.zeros((4,), dtype=ng.float64))
        # float buffers: load_state_dict's copy_ does not take int64/bool targets yet
        self.register_buffer("steps", ng.tensor(np.array(7.0, np.float64)))
        self.register_buffer("mask", ng.tensor(np.array([1.0, -0.0], np.float32)))


def test_module_state_dict_round_trip(tmp_path):
    source, target = Net(), Net()
    with ng.no_grad():
        source.sub.bias.copy_(ng.tensor(np.array([1.0, -0.0, np.nan, 2.5])))
        target.weight.copy_(ng.zeros((3, 4)))
    ng.save({"model": source.state_dict(), "epoch": 3}, tmp_path / "ckpt")
    checkpoint = ng.load(tmp_path / "ckpt")
    assert checkpoint["epoch"] == 3
    assert list(checkpoint["model"]) == list(source.state_dict()) == ["weight", "steps", "mask", "sub.bias"]
    target.load_state_dict(checkpoint["model"])
    for (key, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        assert same_bytes(a.numpy(), b.numpy()), key


def test_unstorable_objects_name_their_place(tmp_path):
    path = tmp_path / "x.npz"
    cases = [({"model": {"fc.weight": lambda x: x}}, r"obj\['model'\]\['fc.weight'\] is a function"),
             ({"a": [1, {2, 3}]}, r"obj\['a'\]\[1\] is a set"),
             ({"a": np.array([1, None])}, r"obj\['a'\] is a NumPy array of dtype object"),
             ({(1, 2): 3}, r"obj has the key \(1, 2\) \(tuple\)"),
             ({True: 3}, r"obj has the key True"),
             (object(), r"ng.save: obj is a object")]
    for obj, message in cases:
        with pytest.raises(TypeError, match=message):
            ng.save(obj, path)
        assert not path.exists()  # nothing written
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"obj\[0\] contains itself"):
        ng.save(loop, path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        ng.load(tmp_path / "absent.npz")


def good_checkpoint(tmp_path):
    path = tmp_path / "good.npz"
    ng.save({"model": Net().state_dict(), "optim": {"state": {0: {"step": 1}}}, "epoch": 2}, path)
    return path.read_bytes()


def expect_corrupt(tmp_path, data, name="bad.npz"):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=CORRUPT):
        ng.load(path)


def test_truncated_checkpoints(tmp_path):
    data = good_checkpoint(tmp_path)
    for length in sorted({0, 1, 4, 30, 100, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 22,
                          len(data) - 1}):
        expect_corrupt(tmp_path, data[:length])


def test_flipped_bytes(tmp_path):
    """Every flipped byte either raises the clear error or (in bytes no check
    covers, such as zip timestamps) loads the same content."""
    data = good_checkpoint(tmp_path)
    expected = ng.load(io.BytesIO(data))
    raised = 0
    for position in range(0, len(data), 7):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        try:
            loaded = ng.load(io.BytesIO(bytes(damaged)))
        except ValueError as e:
            assert "is not an nthgrad checkpoint or is corrupt" in str(e)
            raised += 1
            continue
        assert loaded["epoch"] == expected["epoch"] and loaded["optim"] == expected["optim"]
        for key, t in expected["model"].items():
            assert same_bytes(loaded["model"][key].numpy(), t.numpy())
    assert raised > 0


def write_npz(tmp_path, entries):
    path = tmp_path / "crafted.npz"
    with open(path, "wb") as f:
        np.savez(f, **entries)
    return path


def manifest(obj):
    return np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)


def root(node, version=1):
    return {"format": "nthgrad-checkpoint", "version": version, "root": node}


@pytest.mark.parametrize("entries, reason", [
    ({"a0": np.zeros(3)}, "no __nthgrad_manifest__ entry"),
    ({"__nthgrad_manifest__": np.frombuffer(b"{not json", np.uint8)}, "JSONDecodeError"),
    ({"__nthgrad_manifest__": np.zeros(3)}, "not bytes"),
    ({"__nthgrad_manifest__": manifest([1, 2])}, "not an nthgrad checkpoint manifest"),
    ({"__nthgrad_manifest__": manifest(root({"t": "none"}, version=99))}, "format version 99"),
    ({"__nthgrad_manifest__": manifest(root({"t": "tensor", "a": "a7", "dtype": "float32", "shape": [3]}))},
     "names the array 'a7'"),
    ({"a0": np.zeros(3), "__nthgrad_manifest__": manifest(root({"t": "tensor", "a": "a0", "dtype": "float32",
                                                                 "shape": [3]}))}, "manifest says float32"),
    ({"a0": np.zeros(3), "__nthgrad_manifest__": manifest(root({"t": "ndarray", "a": "a0", "dtype": "<f8",
                                                                 "shape": [4]}))}, "manifest says"),
    ({"__nthgrad_manifest__": manifest(root({"t": "set"}))}, "unknown kind 'set'"),
    ({"__nthgrad_manifest__": manifest(root({"t": "dict", "items": [[[1], {"t": "none"}]]}))}, "key"),
    ({"__nthgrad_manifest__": manifest(root({"t": "list"}))}, "KeyError"),
    ({"__nthgrad_manifest__": manifest(root({"t": "int", "v": "3"}))}, "should be of type int"),
    ({"__nthgrad_manifest__": manifest(root({"t": "float", "v": "zz"}))}, "ValueError"),
    ({"__nthgrad_manifest__": manifest(root([{"t": "none"}]))}, "not a node"),
])
def test_crafted_bad_manifests(tmp_path, entries, reason):
    with pytest.raises(ValueError, match=CORRUPT + ".*" + reason):
        ng.load(write_npz(tmp_path, entries))


def test_foreign_files(tmp_path):
    expect_corrupt(tmp_path, b"just some text\n" * 10, "notes.txt")
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3))
    expect_corrupt(tmp_path, buffer.getvalue(), "single.npy")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("readme.txt", "hello")
    expect_corrupt(tmp_path, zipped.getvalue(), "other.zip")


def test_cut_zip_entry(tmp_path):
    """A zip whose central directory is intact but an entry's data is cut short."""
    data = good_checkpoint(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo("a0.npy")
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = data[:data_start + 80] + data[data_start + 120:]  # 40 bytes of a0 gone, directory kept
    expect_corrupt(tmp_path, damaged)


@pytest.mark.parametrize("entry", ["a0.npy", "__nthgrad_manifest__.npy"])
def test_forged_huge_shape_is_corrupt_not_memory_error(tmp_path, entry):
    """A .npy header claiming shape (2**40,) (4 TiB) in a tiny entry: the clear
    error, not a MemoryError from allocating what the header claims."""
    data = good_checkpoint(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4" if entry == "a0.npy" else "|u1",
                                                  "fortran_order": False, "shape": (2**40,)})
    entries[entry] = header.getvalue() + bytes(16)
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as z:
        for name, payload in entries.items():
            z.writestr(name, payload)
    with pytest.raises(ValueError, match=CORRUPT + ".*declares shape"):
        ng.load(io.BytesIO(forged.getvalue()))


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    """An entry of 64 MiB of zeros deflated to ~64 KiB, the header consistent
    with it: refused from the zip directory's sizes, nothing inflated."""
    data = good_checkpoint(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**24,)})
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w") as z:
        for name, payload in entries.items():
            if name == "a0.npy":
                z.writestr(name, header.getvalue() + bytes(2**26), compress_type=zipfile.ZIP_DEFLATED,
                           compresslevel=9)
            else:
                z.writestr(name, payload)
    with pytest.raises(ValueError, match=CORRUPT + ".*zip bomb"):
        ng.load(io.BytesIO(bomb.getvalue()))
    compressed = io.BytesIO()  # an honest compressed checkpoint still loads
    with zipfile.ZipFile(compressed, "w") as z:
        for name, payload in entries.items():
            z.writestr(name, payload, compress_type=zipfile.ZIP_DEFLATED)
    loaded = ng.load(io.BytesIO(compressed.getvalue()))
    assert loaded["epoch"] == 2


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    ng.save({"epoch": 1}, path)

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(KeyboardInterrupt):
        ng.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert ng.load(path) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file was removed
