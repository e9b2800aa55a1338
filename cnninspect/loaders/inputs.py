"""Inputs to run a network on (``--input``): a ``.npy`` array, an image, ``random:SEED``
or ``zeros``, made into one array of the model input's shape, in the file's own layout.

Images are read by Pillow, converted to the input's channels (1: grey, 3: RGB, 4: RGBA),
resized to its height and width with bilinear interpolation (as ``keras.utils.load_img``
does, said in a note) and scaled by one of the usual preprocessings:

- ``none``: the pixels, 0 to 255;
- ``unit``: divided by 255, 0 to 1 (the default);
- ``symmetric``: ``x / 127.5 - 1``, -1 to 1 (Keras' ``mode="tf"``: MobileNet, Inception);
- ``caffe``: RGB to BGR, then the ImageNet mean pixel subtracted (VGG, ResNet50 in Keras);
- ``torch``: divided by 255, then ImageNet mean and std per channel (torchvision models).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from ..errors import FileNotReadable, UsageError

if TYPE_CHECKING:
    import numpy as np

PREPROCESS = ("none", "unit", "symmetric", "caffe", "torch")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MODES = {1: "L", 3: "RGB", 4: "RGBA"}

Dims = Sequence[Optional[int]]


@dataclass
class Prepared:
    """One model input, ready to run: batch included, in the model's layout."""

    array: np.ndarray
    origin: str  # what the user gave: a path, "random:3", "zeros"
    preprocess: str | None  # for images; None for arrays given as they are
    notes: list[str] = field(default_factory=list)


def prepare(spec: str, shape: Dims, channels_last: bool, preprocess: str = "unit", dtype: str = "float32") -> Prepared:
    """``shape`` is the model input's, batch first (``None`` where the file leaves it open)."""
    import numpy as np

    if preprocess not in PREPROCESS:
        raise UsageError(f"--preprocess {preprocess!r}: choose one of {', '.join(PREPROCESS)}")
    if spec == "zeros" or spec.startswith("random:"):
        full = _concrete(shape, spec)
        if spec == "zeros":
            return Prepared(np.zeros(full, dtype), spec, None)
        try:
            seed = int(spec.split(":", 1)[1])
        except ValueError:
            raise UsageError(f"--input {spec}: give random:SEED with a whole number, e.g. random:0") from None
        data = np.random.default_rng(seed).standard_normal(full).astype(dtype)
        return Prepared(data, spec, None, ["random input: standard normal values"])
    path = Path(spec)
    if not path.is_file():
        raise FileNotReadable(f"--input {spec}: no such file (give a .npy array, an image, random:SEED or zeros)")
    if path.suffix.lower() == ".npy":
        return _array(path, shape, dtype)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _image(path, shape, channels_last, preprocess, dtype)
    raise UsageError(f"--input {spec}: not a .npy array or an image ({', '.join(IMAGE_SUFFIXES)})")


def _concrete(shape: Dims, spec: str) -> tuple[int, ...]:
    dims = [1 if i == 0 and d is None else d for i, d in enumerate(shape)]
    if any(d is None for d in dims):
        raise UsageError(f"--input {spec}: the model's input shape {_text(shape)} leaves dims open; give --input-shape")
    return tuple(int(d) for d in dims if d is not None)


def _text(shape: Dims) -> str:
    return "(" + ", ".join("None" if d is None and i == 0 else "?" if d is None else str(d) for i, d in enumerate(shape)) + ")"


def _array(path: Path, shape: Dims, dtype: str) -> Prepared:
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UsageError(f"--input {path}: not a NumPy array cnninspect can read ({exc})") from None
    stored = tuple(data.shape)
    if data.ndim == len(shape) - 1:
        data = data[None]
    fits = data.ndim == len(shape) and all(d is None or d == n for d, n in zip(shape, data.shape))
    if not fits:
        raise UsageError(f"--input {path} has shape {stored}; the model takes {_text(shape)}")
    if not np.issubdtype(data.dtype, np.number):
        raise UsageError(f"--input {path} holds {data.dtype} values, not numbers")
    return Prepared(np.ascontiguousarray(data, dtype=dtype), str(path), None)


def _image(path: Path, shape: Dims, channels_last: bool, preprocess: str, dtype: str) -> Prepared:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if len(shape) != 4:
        raise UsageError(f"--input {path}: an image feeds a 4-D input; the model takes {_text(shape)}")
    height, width, channels = (shape[1], shape[2], shape[3]) if channels_last else (shape[2], shape[3], shape[1])
    if channels not in MODES:
        raise UsageError(f"--input {path}: an image has 1, 3 or 4 channels; the model takes {_text(shape)}")
    try:
        with Image.open(path) as image:
            image = image.convert(MODES[channels])
            notes = []
            size = (width or image.width, height or image.height)
            if size != image.size:
                notes.append(f"image resized from {image.width}x{image.height} to {size[0]}x{size[1]} (bilinear)")
                image = image.resize(size, Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=dtype)
    except (UnidentifiedImageError, OSError) as exc:
        raise UsageError(f"--input {path}: not an image Pillow can read ({exc})") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    data = scale(pixels, preprocess)
    if not channels_last:
        data = np.moveaxis(data, -1, 0)
    return Prepared(np.ascontiguousarray(data[None], dtype=dtype), str(path), preprocess, notes)


def scale(pixels: np.ndarray, preprocess: str) -> np.ndarray:
    """Pixels (height, width, channels), 0-255, scaled as ``preprocess`` names."""
    import numpy as np

    if preprocess == "none":
        return pixels
    if preprocess == "unit":
        return pixels / np.asarray(255, pixels.dtype)
    if preprocess == "symmetric":
        return pixels / np.asarray(127.5, pixels.dtype) - np.asarray(1, pixels.dtype)
    if pixels.shape[-1] != 3:
        raise UsageError(f"--preprocess {preprocess} is defined for RGB images; this input has {pixels.shape[-1]} channel(s)")
    if preprocess == "caffe":
        return pixels[..., ::-1] - np.asarray(CAFFE_MEAN_BGR, pixels.dtype)
    return (pixels / np.asarray(255, pixels.dtype) - np.asarray(TORCH_MEAN, pixels.dtype)) / np.asarray(TORCH_STD, pixels.dtype)
