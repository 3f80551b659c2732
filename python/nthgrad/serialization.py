"""Checkpoints: ``nthgrad.save(obj, path)`` and ``nthgrad.load(path)``, for
state dicts, in a safe format (never pickle).

The file is a NumPy ``.npz`` (a zip of ``.npy`` files, whatever the name's
extension): one entry per array, ``a0.npy``, ``a1.npy``, ..., and the entry
``__nthgrad_manifest__.npy``, a uint8 array of UTF-8 JSON that describes the
structure and points to the arrays. It is read with
``numpy.load(..., allow_pickle=False)`` only, so loading a file runs no code.

    import nthgrad as ng

    ckpt = {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}
    ng.save(ckpt, "ckpt.npz")
    ckpt = ng.load("ckpt.npz")
    model.load_state_dict(ckpt["model"])
"""
import json
import math
import os
import secrets
import zipfile
from collections import OrderedDict

import numpy as np

from ._C import Tensor

__all__ = ["save", "load"]

_MANIFEST = "__nthgrad_manifest__"
_FORMAT = "nthgrad-checkpoint"
_VERSION = 1
_TENSOR_DTYPES = {"float32", "float64", "int64", "bool"}


# ---- save: the structure as JSON nodes, the arrays aside ----
def _where(where):
    return "obj" + where


class _Encoder:
    """Turns a structure into JSON-ready nodes ({"t": kind, ...}) and collects
    its arrays; `where` is the path of the current value, for errors."""

    def __init__(self):
        self.arrays = {}
        self.open_containers = set()

    def array(self, array):
        name = f"a{len(self.arrays)}"
        self.arrays[name] = array
        return name

    def node(self, value, where):
        if isinstance(value, (np.ndarray, np.generic)):  # first: np.float64 is also a float
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise TypeError(f"ng.save: {_where(where)} is a NumPy array of dtype {array.dtype}, which only "
                                "pickle could store; use a numeric, bool or string dtype")
            kind = "ndarray" if isinstance(value, np.ndarray) else "npscalar"
            return {"t": kind, "a": self.array(array), "dtype": array.dtype.str, "shape": list(array.shape)}
        if value is None:
            return {"t": "none"}
        if isinstance(value, bool):
            return {"t": "bool", "v": value}
        if isinstance(value, int):
            return {"t": "int", "v": value}
        if isinstance(value, float):
            return {"t": "float", "v": value.hex()}  # exact, with nan, inf and -0.0
        if isinstance(value, str):
            return {"t": "str", "v": value}
        if isinstance(value, Tensor):
            return self.tensor(value, where)
        if isinstance(value, (dict, list, tuple)):
            if id(value) in self.open_containers:
                raise ValueError(f"ng.save: {_where(where)} contains itself")
            self.open_containers.add(id(value))
            try:
                return self.container(value, where)
            finally:
                self.open_containers.discard(id(value))
        kind = "a function" if callable(value) else f"a {type(value).__name__}"
        raise TypeError(f"ng.save: {_where(where)} is {kind}, which a checkpoint cannot store; it stores dicts "
                        "(str or int keys), lists, tuples, tensors, NumPy arrays, int, float, bool, str and None")

    def tensor(self, value, where):
        dtype = str(value.dtype).replace("nthgrad.", "")
        if dtype not in _TENSOR_DTYPES:
            raise TypeError(f"ng.save: {_where(where)} is a tensor of unsupported dtype {value.dtype}")
        return {"t": "tensor", "a": self.array(value.detach().numpy()), "dtype": dtype, "shape": list(value.shape)}

    def container(self, value, where):
        if isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            return {"t": kind, "items": [self.node(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        items = []
        for key, v in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"ng.save: {_where(where)} has the key {key!r} ({type(key).__name__}); "
                                "dict keys must be str or int")
            items.append([key, self.node(v, f"{where}[{key!r}]")])
        return {"t": "odict" if isinstance(value, OrderedDict) else "dict", "items": items}


def _manifest_array(root):
    text = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root}, ensure_ascii=False, allow_nan=False)
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _create_temporary(path):
    """A new file beside ``path`` for the atomic write, with the permissions
    the final file should have: those of the file it replaces, else 0o666
    less the umask (as open() gives; mkstemp's 0o600 would make checkpoints
    unreadable to the group and others)."""
    directory = os.path.dirname(os.path.abspath(path))
    for _ in range(100):
        temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        try:
            os.chmod(temporary, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            pass
        except OSError:
            os.close(fd)
            os.unlink(temporary)
            raise
        return fd, temporary
    raise FileExistsError(f"ng.save: could not create a temporary file in {directory}")


def save(obj, path):
    """Writes ``obj`` to ``path`` (a str, a pathlib.Path or a binary file
    object) as an ``.npz`` checkpoint.

    ``obj`` is a (nested) structure of dicts (str or int keys; order kept,
    an OrderedDict comes back as one), lists, tuples, nthgrad tensors
    (float32, float64, int64, bool; any shape, stored bit-exactly; not their
    ``requires_grad``), NumPy arrays and scalars, and int, float, bool, str,
    None. Anything else is a TypeError naming where it is
    (``obj['model']['fc.weight']``), raised before the file is touched. A path
    is written atomically: to a temporary file in the same directory, then
    renamed over ``path`` (over a symlink's target, as open() would write;
    keeping the replaced file's permissions), so an interrupted save leaves
    the old file (a file object is written as it is: its atomicity is the
    caller's).

        ng.save({"model": net.state_dict(), "epoch": 3}, "ckpt.npz")
    """
    encoder = _Encoder()
    root = encoder.node(obj, "")
    entries = dict(encoder.arrays)
    entries[_MANIFEST] = _manifest_array(root)
    if hasattr(path, "write"):
        np.savez(path, allow_pickle=False, **entries)
        return
    path = os.path.realpath(os.fspath(path))  # through a symlink, as open(): replace its target, not the link
    fd, temporary = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **entries)  # to a file object: savez adds no ".npz" to the name
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


# ---- load: check everything, trust nothing ----
class _Corrupt(Exception):
    """A file that is not a well-formed checkpoint (turned into the ValueError of load)."""


_MAX_RATIO = 1000  # deflate's own limit is about 1032


def _read_entry(npz, name):
    """npz[name], after checking that the .npy header's shape and dtype fit in
    the bytes the entry holds: a forged header (shape (2**40,)) would make
    NumPy allocate the whole array (a MemoryError) before finding it short;
    and that a compressed entry does not inflate beyond deflate's ratio."""
    info = npz.zip.getinfo(name + ".npy")
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > _MAX_RATIO * max(info.compress_size, 1):
        # ng.save stores entries uncompressed; a tiny entry that inflates to gigabytes is a zip bomb
        raise _Corrupt(f"the entry {name!r} inflates {info.compress_size} bytes to {info.file_size} (more than "
                       f"{_MAX_RATIO} times): refused as a zip bomb")
    with npz.zip.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)  # (NumPy >= 1.24 also caps the header at 10000 bytes)
        data_bytes = info.file_size - f.tell()
    declared = math.prod(shape) * dtype.itemsize
    if declared > data_bytes:
        raise _Corrupt(f"the entry {name!r} declares shape {shape} of {dtype} ({declared} bytes) but holds "
                       f"{data_bytes} bytes of data")
    return npz[name]


class _Decoder:
    def __init__(self, npz):
        self.npz = npz
        self.entries = set(npz.files)

    def array(self, node, where):
        name = node.get("a")
        if not isinstance(name, str) or name not in self.entries or name == _MANIFEST:
            raise _Corrupt(f"{_where(where)} names the array {name!r}, which the file does not hold")
        array = _read_entry(self.npz, name)
        if not isinstance(node.get("shape"), list) or tuple(array.shape) != tuple(node["shape"]):
            raise _Corrupt(f"the array of {_where(where)} has shape {array.shape}, the manifest says "
                           f"{node.get('shape')!r}")
        return array

    def node(self, node, where):
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise _Corrupt(f"the manifest entry of {_where(where)} is not a node: {str(node)[:80]}")
        kind = node["t"]
        if kind == "none":
            return None
        if kind in ("bool", "int", "str"):
            value = node.get("v")
            expected = {"bool": bool, "int": int, "str": str}[kind]
            if type(value) is not expected:
                raise _Corrupt(f"{_where(where)} should be of type {kind}, the manifest holds {value!r}")
            return value
        if kind == "float":
            return float.fromhex(node["v"])
        if kind == "tensor":
            return self.tensor(node, where)
        if kind in ("ndarray", "npscalar"):
            array = self.array(node, where)
            if array.dtype.str != node.get("dtype"):
                raise _Corrupt(f"the array of {_where(where)} is {array.dtype}, the manifest says "
                               f"{node.get('dtype')!r}")
            return array if kind == "ndarray" else array[()]
        if kind in ("list", "tuple"):
            items = [self.node(v, f"{where}[{i}]") for i, v in enumerate(node["items"])]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "odict"):
            out = OrderedDict() if kind == "odict" else {}
            for key, value in node["items"]:
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise _Corrupt(f"{_where(where)} has the key {key!r}, not a str or int")
                out[key] = self.node(value, f"{where}[{key!r}]")
            return out
        raise _Corrupt(f"{_where(where)} has the unknown kind {kind!r}")

    def tensor(self, node, where):
        from ._tensor import tensor
        dtype = node.get("dtype")
        if dtype not in _TENSOR_DTYPES:
            raise _Corrupt(f"{_where(where)} is a tensor of unknown dtype {dtype!r}")
        array = self.array(node, where)
        if array.dtype != np.dtype(dtype):
            raise _Corrupt(f"the array of {_where(where)} is {array.dtype}, the manifest says {dtype}")
        return tensor(array, dtype=dtype)  # a copy: bit-exact, NaN payloads and -0.0 included


def _read_manifest(npz):
    if _MANIFEST not in npz.files:
        raise _Corrupt(f"it has no {_MANIFEST} entry (an .npz written by something else?)")
    raw = _read_entry(npz, _MANIFEST)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _Corrupt(f"the manifest is a {raw.dtype} array of shape {raw.shape}, not bytes")
    manifest = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT or "root" not in manifest:
        raise _Corrupt("the manifest is not an nthgrad checkpoint manifest")
    if manifest.get("version") != _VERSION:
        raise _Corrupt(f"format version {manifest.get('version')!r}, this nthgrad reads version {_VERSION}")
    return manifest["root"]


# What reading a damaged file can raise, from zipfile, numpy's .npy reader,
# json and the decoding above (a node of the wrong type shows as KeyError,
# TypeError, AttributeError or IndexError).
_READ_ERRORS = (_Corrupt, ValueError, TypeError, KeyError, IndexError, AttributeError, EOFError, OSError,
                OverflowError, RecursionError, UnicodeDecodeError, zipfile.BadZipFile, NotImplementedError)


def load(path):
    """Reads a checkpoint written by ``nthgrad.save`` from ``path`` (a str, a
    pathlib.Path or a binary file object) and returns the structure: tensors
    come back as nthgrad tensors of the same dtype, shape and bytes (not
    requiring grad), NumPy arrays as arrays, dicts in their order.

    A missing file is a FileNotFoundError; a file that is not a checkpoint or
    is damaged (truncated, altered bytes, no or a broken manifest, a missing
    array) is a ValueError "ng.load: <path> is not an nthgrad checkpoint or is
    corrupt: <reason>".

        ckpt = ng.load("ckpt.npz")
        net.load_state_dict(ckpt["model"])
    """
    name = repr(path) if hasattr(path, "read") else os.fspath(path)
    own_file = not hasattr(path, "read")
    f = open(path, "rb") if own_file else path  # FileNotFoundError as is
    try:
        contents = np.load(f, allow_pickle=False)
        if not isinstance(contents, np.lib.npyio.NpzFile):
            raise _Corrupt("it holds a single .npy array, not an .npz checkpoint")
        with contents as npz:
            return _Decoder(npz).node(_read_manifest(npz), "")
    except _READ_ERRORS as e:
        reason = str(e) if isinstance(e, _Corrupt) else f"{type(e).__name__}: {e}"
        raise ValueError(f"ng.load: {name} is not an nthgrad checkpoint or is corrupt: {reason}") from None
    finally:
        if own_file:
            f.close()
