"""The floors of ``bench.py``: the least work a bare library must do to get what a
cnninspect command reports, so that ``cnninspect X`` can be compared with it.

    python benchmarks/floors.py shapes FILE            (.h5, .keras or .safetensors)
    python benchmarks/floors.py filters FILE LAYER N   (.h5 or .safetensors)
    python benchmarks/floors.py stats FILE             (.h5)

* ``shapes``
    - ``.h5``: open the file with h5py, ``json.loads`` the ``model_config`` attribute,
      read ``model_weights``' ``layer_names`` and each group's ``weight_names``, and
      every weight dataset's ``.shape`` and ``.dtype``. No weight data is read.
    - ``.keras``: open the zip, ``json.loads`` its ``config.json``, open the stored
      ``model.weights.h5`` member in place (a window onto the archive, never extracted)
      with h5py and visit every dataset's ``.shape`` and ``.dtype``.
    - ``.safetensors``: read the 8-byte header length and ``json.loads`` the header.
* ``filters``: the config as for ``shapes``, then only the output map's slice:
    - ``.h5``: find the layer's kernel (and bias, if any) by its group's
      ``weight_names`` and read ``kernel[..., N]`` and ``bias[N]`` (Keras kernels keep
      the output axis last).
    - ``.safetensors``: ``np.memmap`` the ``LAYER.kernel`` and ``LAYER.bias`` tensors at
      their header offsets and copy ``kernel[..., N]`` and ``bias[N]``.
* ``stats``: one NumPy pass over every weight dataset, read with h5py 16 MiB at a time
  along the first axis (as ``weights --stats`` streams): min, max, sum and sum of
  squares (for mean and std) of the finite values in float64, zero, NaN and Inf counts,
  and which output maps have a nonzero weight (the dead filters ``--stats`` lists).

Nothing is printed: a floor only pays for the reading. Only the standard library,
``h5py`` (which imports numpy) and ``numpy`` are imported, and each floor imports only
what it uses: the safetensors ``shapes`` floor is ``json`` alone.
"""

import json
import sys


def _str(value):
    """Keras 3 writes str attributes; Keras 1/2 and tf.keras write bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _role(weight_name):
    """``block/conv/kernel:0`` -> ``kernel``."""
    return _str(weight_name).rsplit("/", 1)[-1].split(":")[0]


def h5_shapes(path):
    import h5py

    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        root = f["model_weights"]
        weights = {}
        for layer in root.attrs["layer_names"]:
            group = root[_str(layer)]
            for name in group.attrs["weight_names"]:
                dataset = group[_str(name)]
                weights[dataset.name] = (dataset.shape, dataset.dtype)
    return config, weights


def h5_filters(path, layer, out):
    import h5py

    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        group = f["model_weights"][layer]
        by_role = {_role(n): _str(n) for n in group.attrs["weight_names"]}
        kernel = group[by_role["kernel"]][..., out]
        bias = group[by_role["bias"]][out] if "bias" in by_role else 0.0
    return config, kernel, bias


def keras_shapes(path):
    import io
    import zipfile

    import h5py

    class Window(io.RawIOBase):
        """The stored (uncompressed) member's bytes, read in place with ``os.pread``."""

        def __init__(self, fd, start, size):
            self.fd, self.start, self.size, self.pos = fd, start, size, 0

        def readable(self):
            return True

        def seekable(self):
            return True

        def tell(self):
            return self.pos

        def seek(self, offset, whence=0):
            self.pos = offset + (0, self.pos, self.size)[whence]
            return self.pos

        def readinto(self, buffer):
            import os

            data = os.pread(self.fd, min(len(buffer), self.size - self.pos), self.start + self.pos)
            buffer[: len(data)] = data
            self.pos += len(data)
            return len(data)

    with open(path, "rb") as fh, zipfile.ZipFile(fh) as zf:
        config = json.loads(zf.read("config.json"))
        info = zf.getinfo("model.weights.h5")
        fh.seek(info.header_offset + 26)
        local = fh.read(4)  # the local header's name and extra-field lengths
        start = info.header_offset + 30 + int.from_bytes(local[:2], "little") + int.from_bytes(local[2:], "little")
        weights = {}
        with h5py.File(Window(fh.fileno(), start, info.file_size), "r") as f:
            f.visititems(lambda name, obj: weights.__setitem__(name, (obj.shape, obj.dtype)) if hasattr(obj, "shape") else None)
    return config, weights


def _safetensors_header(path):
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        return json.loads(fh.read(n)), 8 + n


def safetensors_shapes(path):
    return _safetensors_header(path)[0]


def safetensors_filters(path, layer, out):
    import numpy as np

    header, data = _safetensors_header(path)

    def tensor(name):
        info = header[name]
        dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}[info["dtype"]]
        return np.memmap(path, dtype=dtype, mode="r", offset=data + info["data_offsets"][0], shape=tuple(info["shape"]))

    kernel = np.array(tensor(f"{layer}.kernel")[..., out])
    bias = np.array(tensor(f"{layer}.bias")[out]) if f"{layer}.bias" in header else 0.0
    return header, kernel, bias


CHUNK_BYTES = 16 * 1024 * 1024


def h5_stats(path):
    import h5py
    import numpy as np

    datasets = []
    with h5py.File(path, "r") as f:
        f["model_weights"].visititems(lambda name, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
        stats = [_stats(np, d) for d in datasets]
    return stats


def _stats(np, dataset):
    """min, max, sum, sum of squares, zeros, NaNs, Infs, alive output maps (last axis)."""
    shape = dataset.shape
    if not shape or dataset.size == 0:
        chunks = [()]
    else:
        step = max(CHUNK_BYTES // max(dataset.size * dataset.dtype.itemsize // shape[0], 1), 1)
        chunks = [slice(i, i + step) for i in range(0, shape[0], step)]
    low, high, total, total_sq, zeros, nans, infs = np.inf, -np.inf, 0.0, 0.0, 0, 0, 0
    alive = np.zeros(shape[-1], bool) if len(shape) >= 2 else None
    for index in chunks:
        chunk = dataset[index]
        finite = np.isfinite(chunk)
        bad = chunk.size - np.count_nonzero(finite)
        nans += np.count_nonzero(np.isnan(chunk)) if bad else 0
        infs += np.count_nonzero(np.isinf(chunk)) if bad else 0
        good = chunk[finite] if bad else chunk.ravel()
        nonzero = chunk != 0 if alive is not None else chunk
        zeros += chunk.size - np.count_nonzero(nonzero)
        if good.size:
            low, high = min(low, good.min()), max(high, good.max())
            wide = good.astype(np.float64, copy=False)
            total += wide.sum()
            total_sq += np.dot(wide, wide)
        if alive is not None:
            alive |= np.any(nonzero, axis=tuple(range(chunk.ndim - 1)))
    return low, high, total, total_sq, zeros, nans, infs, alive


FLOORS = {
    ("shapes", "h5"): h5_shapes,
    ("shapes", "keras"): keras_shapes,
    ("shapes", "safetensors"): safetensors_shapes,
    ("filters", "h5"): h5_filters,
    ("filters", "safetensors"): safetensors_filters,
    ("stats", "h5"): h5_stats,
}

if __name__ == "__main__":
    command, path, *rest = sys.argv[1:]
    floor = FLOORS.get((command, path.rsplit(".", 1)[-1]))
    if floor is None:
        sys.exit(f"no floor for {command} on {path}: " + ", ".join(f"{c} .{e}" for c, e in FLOORS))
    floor(path, rest[0], int(rest[1])) if command == "filters" else floor(path)
