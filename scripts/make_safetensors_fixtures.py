"""Write the safetensors fixtures with the safetensors library itself.

Run in a venv with torch==2.13.0, safetensors and numpy (CI never runs this):

    /work/venv-onnx/bin/python scripts/make_safetensors_fixtures.py

Writes to tests/fixtures/safetensors/:
- ``small_cnn.safetensors``: a small PyTorch CNN's state dict by ``safetensors.torch.save_file``
  with metadata ``{"format": "pt"}``;
- ``small_cnn_bf16.safetensors``: the same state dict cast to bfloat16;
- ``numpy_arrays.safetensors``: float16/int8/float64 arrays by ``safetensors.numpy.save_file``;
- ``*.truth.json``: every tensor's name, dtype, shape and, for each, a few values (as
  float32) that the library's own ``load_file`` returned.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file as np_load, save_file as np_save
from safetensors.torch import load_file as torch_load, save_file as torch_save

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "safetensors"


def small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, groups=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )


def truth(arrays: dict[str, np.ndarray], path: Path) -> None:
    doc = {
        name: {
            "dtype": str(a.dtype) if a.dtype != np.dtype("V2") else "bfloat16",
            "shape": list(a.shape),
            "first": a.reshape(-1)[:5].astype(np.float64).tolist(),
            "last": a.reshape(-1)[-5:].astype(np.float64).tolist(),
        }
        for name, a in arrays.items()
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = small_cnn()
    model(torch.randn(2, 3, 16, 16))  # move the BatchNorm statistics off their defaults
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch_save(state, OUT / "small_cnn.safetensors", metadata={"format": "pt"})
    loaded = torch_load(OUT / "small_cnn.safetensors")
    truth({k: v.numpy() for k, v in loaded.items()}, OUT / "small_cnn.truth.json")

    bf16 = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}
    torch_save(bf16, OUT / "small_cnn_bf16.safetensors", metadata={"format": "pt"})
    loaded = torch_load(OUT / "small_cnn_bf16.safetensors")
    arrays = {k: (v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()) for k, v in loaded.items()}
    doc = {k: {"dtype": "bfloat16" if loaded[k].dtype == torch.bfloat16 else str(a.dtype), "shape": list(a.shape),
               "first": a.reshape(-1)[:5].astype(np.float64).tolist(),
               "last": a.reshape(-1)[-5:].astype(np.float64).tolist()} for k, a in arrays.items()}
    (OUT / "small_cnn_bf16.truth.json").write_text(json.dumps(doc, indent=1) + "\n")

    rng = np.random.default_rng(0)
    arrays = {
        "encoder.conv.weight": rng.standard_normal((4, 2, 3, 3)).astype(np.float16),
        "encoder.conv.bias": rng.standard_normal(4).astype(np.float16),
        "head.weight": rng.integers(-128, 127, (5, 4), dtype=np.int8),
        "head.bias": rng.standard_normal(5),
        "empty": np.zeros((0, 3), np.float32),
    }
    np_save(arrays, str(OUT / "numpy_arrays.safetensors"))
    truth(np_load(str(OUT / "numpy_arrays.safetensors")), OUT / "numpy_arrays.truth.json")


if __name__ == "__main__":
    main()
