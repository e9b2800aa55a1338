"""The floors of ``bench.py``: the least work plain h5py must do to get what a
cnninspect command reports, so that ``cnninspect X`` can be compared with it.

    python benchmarks/floors.py shapes FILE
    python benchmarks/floors.py filters FILE LAYER N

* ``shapes``: open the file, ``json.loads`` the ``model_config`` attribute, read
  ``model_weights``' ``layer_names`` and each group's ``weight_names``, and every
  weight dataset's ``.shape`` and ``.dtype``. No weight data is read.
* ``filters``: open the file, ``json.loads`` the ``model_config`` attribute, find the
  layer's kernel (and bias, if any) by its group's ``weight_names``, and read only
  ``kernel[..., N]`` and ``bias[N]`` (Keras kernels keep the output axis last).

Nothing is printed: a floor only pays for the reading. Only ``json``, ``sys`` and
``h5py`` (which imports numpy) are imported, as cnninspect must too.
"""

import json
import sys

import h5py


def _str(value):
    """Keras 3 writes str attributes; Keras 1/2 and tf.keras write bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _role(weight_name):
    """``block/conv/kernel:0`` -> ``kernel``."""
    return _str(weight_name).rsplit("/", 1)[-1].split(":")[0]


def shapes(path):
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


def filters(path, layer, out):
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        group = f["model_weights"][layer]
        by_role = {_role(n): _str(n) for n in group.attrs["weight_names"]}
        kernel = group[by_role["kernel"]][..., out]
        bias = group[by_role["bias"]][out] if "bias" in by_role else 0.0
    return config, kernel, bias


if __name__ == "__main__":
    command, path, *rest = sys.argv[1:]
    if command == "shapes":
        shapes(path)
    elif command == "filters":
        filters(path, rest[0], int(rest[1]))
    else:
        sys.exit(f"unknown floor {command!r}: shapes or filters")
