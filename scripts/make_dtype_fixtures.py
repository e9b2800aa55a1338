"""Write checkpoints stored in bfloat16, float16, int8 and float8 with real PyTorch and the
safetensors library, and what PyTorch itself reads back from them.

Run with system python (torch==2.13.0 and ``safetensors``; CI needs neither):

    python scripts/make_dtype_fixtures.py

Writes to tests/fixtures/torch/dtypes/, for ``bfloat16`` and ``float16`` each (a small CNN:
conv, batch norm, conv, linear, cast with ``model.to(dtype)``):
- ``<dtype>_state.pt`` (``torch.save(model.state_dict())``), ``<dtype>_checkpoint.pth``
  (``{"epoch", "model": state dict, "optimizer"}``), ``<dtype>_module.pt`` (``torch.save(model)``),
  ``<dtype>_legacy.pt`` (the pre-1.6 stream), ``<dtype>_script.pt``
  (``torch.jit.save(torch.jit.script(model))``);
- ``int8_*``: the same five containers of the CNN with int8 kernels (frozen parameters) and
  float32 scales, uint8 and int32 buffers beside them, as hand-quantized checkpoints keep them;
- ``float8_state.pt``: float8_e4m3fn/float8_e5m2 kernels and a uint16 tensor (PyTorch 2
  pickles these through an untyped storage and ``_rebuild_tensor_v3``);
- ``<family>.truth.json``: for every tensor of the state dict its name, dtype, shape,
  bytes, ``first``/``last`` values, min and max and, for every conv and linear kernel, ``weight[n]`` of its
  last output map, all as ``tensor.float()`` (exact: these dtypes widen exactly to float32).

And to tests/fixtures/safetensors/ (``safetensors.torch.save_file``), each with a truth in
the form of the older safetensors fixtures (name → dtype, shape, first, last, from
``safetensors.torch.load_file`` then ``.float()``):
- ``small_cnn_f16.safetensors``, ``small_cnn_f8_e4m3.safetensors``,
  ``small_cnn_f8_e5m2.safetensors``: the same CNN's state dict;
- ``every_bit_pattern.safetensors``: each float8 variant holding all 256 bytes, and a
  bfloat16 tensor holding all 65,536 bit patterns (NaNs and infinities included); its
  truth keeps every float8 value and every 64th bfloat16 one.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
TORCH_OUT = ROOT / "tests" / "fixtures" / "torch" / "dtypes"
ST_OUT = ROOT / "tests" / "fixtures" / "safetensors"


class DtypeCNN(nn.Module):
    """Conv → BatchNorm → ReLU → strided conv, then Flatten → Linear, for 3x8x8 inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 4, 3, stride=2, padding=1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def trained() -> DtypeCNN:
    torch.manual_seed(0)
    model = DtypeCNN()
    model.train()
    model(torch.randn(4, 3, 8, 8))  # BatchNorm statistics move off their defaults
    return model.eval()


def plain(values: torch.Tensor) -> list:
    """Values as float32 numbers, NaN and infinities as JSON's (Python's) spelling."""
    return values.detach().float().tolist()


def tensor_truth(name: str, t: torch.Tensor) -> dict:
    flat = t.detach().reshape(-1)
    doc = {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "nbytes": t.nbytes,
           "first": plain(flat[:8]), "last": plain(flat[-8:]) if flat.numel() else [],
           "min": float(flat.float().min()), "max": float(flat.float().max())}  # fmt: skip
    if name.endswith("weight") and t.dim() in (2, 4):
        doc["slice"] = {"out": t.shape[0] - 1, "values": plain(t[-1])}
    return doc


def write_truth(path: Path, state: dict[str, torch.Tensor], files: list[str]) -> None:
    doc = {"torch_version": torch.__version__, "files": files,
           "tensors": {k: tensor_truth(k, v) for k, v in state.items()}}  # fmt: skip
    path.write_text(json.dumps(doc, indent=1) + "\n")


def float_family(dtype: torch.dtype) -> None:
    model = trained().to(dtype)
    state = model.state_dict()
    name = str(dtype).removeprefix("torch.")
    files = {
        f"{name}_state.pt": lambda p: torch.save(state, p),
        f"{name}_checkpoint.pth": lambda p: torch.save(
            {"epoch": 2, "model": state, "optimizer": torch.optim.SGD(model.parameters(), lr=0.1).state_dict()}, p
        ),
        f"{name}_module.pt": lambda p: torch.save(model, p),
        f"{name}_legacy.pt": lambda p: torch.save(state, p, _use_new_zipfile_serialization=False),
        f"{name}_script.pt": lambda p: torch.jit.save(torch.jit.script(model), p),
    }
    for file, save in files.items():
        save(TORCH_OUT / file)
    write_truth(TORCH_OUT / f"{name}.truth.json", state, list(files))


def int8_family() -> None:
    """Kernels quantized by hand to int8 (a float32 scale per output map), as people store
    them without torch.ao: the int8 tensors are the stored integers, held by the modules
    themselves (frozen int8 parameters, scale buffers), so every container holds them."""
    model = trained()
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            w = module.weight.detach()
            scale = w.abs().amax(dim=tuple(range(1, w.dim()))) / 127
            q = torch.round(w / scale.reshape((-1,) + (1,) * (w.dim() - 1))).to(torch.int8)
            module.weight = nn.Parameter(q, requires_grad=False)
            module.register_buffer("weight_scale", scale)
    model.features[1].register_buffer("mask", (torch.arange(8) % 3 == 0).to(torch.uint8))
    model.classifier[1].register_buffer("zero_point", torch.arange(10, dtype=torch.int32) - 5)
    state = model.state_dict()
    files = {
        "int8_state.pt": lambda p: torch.save(state, p),
        "int8_checkpoint.pth": lambda p: torch.save({"epoch": 1, "state_dict": state}, p),
        "int8_module.pt": lambda p: torch.save(model, p),
        "int8_legacy.pt": lambda p: torch.save(state, p, _use_new_zipfile_serialization=False),
        "int8_script.pt": lambda p: torch.jit.save(torch.jit.script(model), p),
    }
    for file, save in files.items():
        save(TORCH_OUT / file)
    write_truth(TORCH_OUT / "int8.truth.json", state, list(files))


def float8_family() -> None:
    sd = trained().state_dict()
    state = {
        "features.0.weight": sd["features.0.weight"].to(torch.float8_e4m3fn),
        "features.0.bias": sd["features.0.bias"],
        "features.3.weight": sd["features.3.weight"].to(torch.float8_e5m2),
        "features.3.bias": sd["features.3.bias"].to(torch.bfloat16),
        "classifier.1.weight": sd["classifier.1.weight"].to(torch.float8_e4m3fn),
        "classifier.1.counts": torch.arange(0, 65536, 4099, dtype=torch.int32).to(torch.uint16),
    }
    torch.save(state, TORCH_OUT / "float8_state.pt")
    write_truth(TORCH_OUT / "float8.truth.json", state, ["float8_state.pt"])


def safetensors_truth(path: Path) -> None:
    loaded = load_file(path)
    doc = {}
    for k, v in loaded.items():
        flat = v.reshape(-1)
        doc[k] = {"dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape), "nbytes": v.nbytes,
                  "first": plain(flat[:5]), "last": plain(flat[-5:])}  # fmt: skip
    path.with_suffix(".truth.json").write_text(json.dumps(doc, indent=1) + "\n")


def safetensors_files() -> None:
    state = {k: v.contiguous() for k, v in trained().state_dict().items()}
    for file, dtype in [("small_cnn_f16", torch.float16), ("small_cnn_f8_e4m3", torch.float8_e4m3fn),
                        ("small_cnn_f8_e5m2", torch.float8_e5m2)]:  # fmt: skip
        cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        save_file(cast, ST_OUT / f"{file}.safetensors", metadata={"format": "pt"})
        safetensors_truth(ST_OUT / f"{file}.safetensors")
    every = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    bits = {str(d).removeprefix("torch."): every.clone().view(d) for d in
            (torch.float8_e4m3fn, torch.float8_e4m3fnuz, torch.float8_e5m2, torch.float8_e5m2fnuz)}  # fmt: skip
    bits["bfloat16"] = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    path = ST_OUT / "every_bit_pattern.safetensors"
    save_file(bits, path)
    loaded = load_file(path)
    # every float8 value; every 64th bfloat16 one (which includes its infinities and a NaN)
    doc = {k: {"dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape), "first": plain(v[:5]),
               "last": plain(v[-5:]), "step": 64 if v.numel() > 256 else 1,
               "values": plain(v[:: 64 if v.numel() > 256 else 1])} for k, v in loaded.items()}  # fmt: skip
    path.with_suffix(".truth.json").write_text(json.dumps(doc) + "\n")
    assert all(math.isnan(x) for x in doc["float8_e4m3fn"]["values"][0x7F::0x80])  # the format's two NaNs


def main() -> None:
    TORCH_OUT.mkdir(parents=True, exist_ok=True)
    ST_OUT.mkdir(parents=True, exist_ok=True)
    float_family(torch.bfloat16)
    float_family(torch.float16)
    int8_family()
    float8_family()
    safetensors_files()
    print(f"wrote {len(list(TORCH_OUT.iterdir()))} files to {TORCH_OUT} with torch {torch.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
