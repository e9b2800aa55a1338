"""Write the PyTorch fixtures in tests/fixtures/torch/ with real PyTorch, and the truth
PyTorch itself reports about them (run with a venv that has torch, e.g.
``/work/venv-torch/bin/python scripts/make_torch_fixtures.py``; CI does not need torch).

For each model, several files (state dict, checkpoint dict, whole pickled module, the
legacy pre-1.6 stream, TorchScript) and one ``<model>.truth.json``: state-dict names,
shapes and dtypes, module classes, forward-hook output shapes per module path for a
given input shape, and a few kernel slices as PyTorch indexes them.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import torch
from torch import nn

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch"


class SmallCNN(nn.Module):
    """Conv → ReLU → grouped conv → max pool, then Flatten → Linear, for 1x8x8 inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=2),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def mixed() -> nn.Module:
    """Strided bias-free conv, BatchNorm, depthwise conv, transposed conv, adaptive
    pooling and a head, for 3x8x8 inputs (a plain nn.Sequential)."""
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 6, 3, padding=1, groups=6),
        nn.ConvTranspose2d(6, 4, 2, stride=2),
        nn.AvgPool2d(2),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(4, 5),
    )


def grouped_transpose() -> nn.Module:
    """A grouped transposed conv with padding and output_padding, for 4x5x5 inputs."""
    return nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), nn.ReLU())


def hook_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(mod, args, output, name=name):  # noqa: ANN001
            shapes[name.replace(".", "/")] = list(output.shape)

        handles.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for h in handles:
        h.remove()
    return shapes


def slices(model: nn.Module) -> dict[str, dict]:
    """``weight[N]`` (``weight[:, N]`` for transposed convs) of every conv and linear."""
    out: dict[str, dict] = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = module.weight.detach()
            transposed = isinstance(module, nn.ConvTranspose2d)
            groups = getattr(module, "groups", 1)
            if transposed:  # weight (in, out/groups, kh, kw): the last map of the last group
                per_out, per_in = w.shape[1], w.shape[0] // groups
                n = groups * per_out - 1
                g, k = divmod(n, per_out)
                rows = slice(g * per_in, (g + 1) * per_in)
                value = w[rows, k]
                native = f"weight[{rows.start}:{rows.stop}, {k}]" if groups > 1 else f"weight[:, {k}]"
            else:
                n = min(5, w.shape[0] - 1)
                value, native = w[n], f"weight[{n}]"
            out[name.replace(".", "/")] = {
                "out": n,
                "native_slice": native,
                "values": value.tolist(),
                "bias": None if module.bias is None else float(module.bias[n]),
                "groups": getattr(module, "groups", 1),
            }
    return out


def truth(model: nn.Module, input_shape: tuple[int, ...]) -> dict:
    sd = model.state_dict()
    return {
        "torch_version": torch.__version__,
        "input_shape": list(input_shape),
        "state_dict": {k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")} for k, v in sd.items()},
        "modules": {n.replace(".", "/"): type(m).__name__ for n, m in model.named_modules() if n},
        "output_shapes": hook_shapes(model, input_shape),
        "slices": slices(model),
        "first_values": {k: v.reshape(-1)[:4].tolist() for k, v in sd.items() if v.numel()},
    }


def rename_top_folder(src: Path, dst: Path, top: str) -> None:
    """Copy a zip checkpoint under another top folder name, members stored as PyTorch does."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            name = top + "/" + info.filename.split("/", 1)[1]
            zout.writestr(zipfile.ZipInfo(name, info.date_time), zin.read(info))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    small = SmallCNN()
    # A training step, so that the optimizer state holds tensors too.
    opt = torch.optim.SGD(small.parameters(), lr=0.1, momentum=0.9)
    small(torch.randn(2, 1, 8, 8)).sum().backward()
    opt.step()
    small.eval()
    sd = small.state_dict()
    torch.save(sd, OUT / "small_cnn_state.pt")
    torch.save({"epoch": 3, "model": sd, "optimizer": opt.state_dict()}, OUT / "small_cnn_checkpoint.pth")
    torch.save(small, OUT / "small_cnn_module.pt")
    torch.save(sd, OUT / "small_cnn_legacy.pt", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(small), OUT / "small_cnn_script.pt")
    rename_top_folder(OUT / "small_cnn_state.pt", OUT / "small_cnn_renamed.pth", "mnist_cnn")
    (OUT / "small_cnn.truth.json").write_text(json.dumps(truth(small, (1, 8, 8)), indent=1) + "\n")

    mix = mixed()
    mix.train()
    mix(torch.randn(4, 3, 8, 8))  # BatchNorm running statistics move off their defaults
    mix.eval()
    torch.save(mix.state_dict(), OUT / "mixed_state.pt")
    torch.save(mix, OUT / "mixed_module.pt")
    torch.save(mix, OUT / "mixed_module_legacy.pt", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(mix), OUT / "mixed_script.pt")
    (OUT / "mixed.truth.json").write_text(json.dumps(truth(mix, (3, 8, 8)), indent=1) + "\n")

    grouped = grouped_transpose().eval()
    torch.save(grouped, OUT / "grouped_transpose_module.pt")
    (OUT / "grouped_transpose.truth.json").write_text(json.dumps(truth(grouped, (4, 5, 5)), indent=1) + "\n")
    print(f"wrote {len(list(OUT.iterdir()))} files to {OUT} with torch {torch.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
