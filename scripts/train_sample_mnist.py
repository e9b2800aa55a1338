#!/usr/bin/env python3
"""Train the bundled sample model on real handwritten digits, and store Keras' own answers.

``sample_models/mnist_cnn.h5`` is the network of the README's question (28x28x1 input, two
3x3 'same' relu convolutions of 32 maps, a 2x2 max pool, Flatten, Dense 64 relu, Dense 10
softmax), built by ``make_keras_fixtures.build_mnist_cnn`` so that its layer names and file
layout are those of the random-weight fixture ``tests/fixtures/keras3/mnist_cnn.h5``. Here it
is trained, so its filters and activation maps look like something.

The data: scikit-learn's bundled digits (``sklearn.datasets.load_digits``: 1797 images, 8x8,
grey levels 0-16, stroke bright on a dark background, like MNIST). Each image is scaled to
0-255, resized to 28x28 with Pillow's bilinear filter (on the float image), and rounded to
uint8. Those uint8 pixels are the images: the model is trained on ``pixels / 255`` (the
``unit`` preprocessing), and the PNGs saved under ``sample_models/digits/`` hold the same
pixels, so reading a PNG and dividing by 255 gives exactly what the model was trained and
tested on. The split is stratified, 20% held out, with a fixed seed.

What it writes (paths relative to the repository root):

* ``sample_models/mnist_cnn.h5``: Keras 3, ``model.save`` (the legacy HDF5 full-model
  format), uncompiled like the fixture (no optimizer state), and its ``mnist_cnn.truth.json``
  (``make_keras_fixtures.truth``: shapes, params, weight names).
* ``sample_models/mnist_cnn_tfkeras.h5``: the same trained weights set into the same network
  built by tf_keras (Keras 2) in a second process, and its ``.truth.json``. Training it again
  with tf_keras would give a second, different network; copying the weights gives one network
  in two writers' formats, so both samples show the same filters and the same maps. The child
  process runs the tf_keras file on the saved PNGs and the parent checks that it agrees with
  Keras 3.
* ``sample_models/digits/N.png``: for each class N, the held-out image the model gives the
  highest probability of N among those it classifies correctly (the first, in split order, of
  equals); ``L_as_P.png``: the first held-out image it gets wrong, if there is one.
* ``sample_models/mnist_cnn.training.json``: seed, split sizes, epochs, optimizer, versions,
  train and held-out accuracy, and for each PNG its label, Keras' predicted class and the full
  softmax vector, computed by the saved file reloaded with Keras from exactly the PNG's pixels
  / 255.
* ``sample_models/digits/7.activations.json``: for ``7.png``, every layer's output as
  Keras computes it (a ``keras.Model`` with every layer's output): shape, min, max, mean,
  std, fraction of zeros, the all-zero maps of the conv and pool layers, a few sampled
  elements (index into the output in the file's own NHWC layout, value), and the full final
  softmax vector. This is the ground truth for ``cnninspect activations``.

Training is seeded (``keras.utils.set_random_seed``) and deterministic
(``tf.config.experimental.enable_op_determinism``, oneDNN off): a rerun here writes the same
bytes in every file. Another CPU or library version may change the last bits of the weights.

Versions used: Python 3.11.7, tensorflow-cpu 2.21.0, keras 3.15.1 (pulled in by TensorFlow),
tf-keras 2.21.0, scikit-learn 1.9.1, Pillow 13.0.0, numpy 2.4.6, h5py 3.14.0. Training took
10 to 50 s here (12 epochs, two CPU cores shared with other jobs), the whole script 20 to 95 s.

How to run it (from anywhere; paths are resolved from this file):

    /work/venv-tf/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 scikit-learn pillow
    /work/venv-tf/bin/python scripts/train_sample_mnist.py

It runs itself a second time with ``--tf-keras-from WEIGHTS.npz`` for the tf_keras file (Keras 3
and tf_keras must not share a process).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_keras_fixtures as mkf  # noqa: E402

SAMPLES = mkf.REPO / "sample_models"
DIGITS = SAMPLES / "digits"
SEED = 0
SIDE = 28
HELD_OUT = 0.2
EPOCHS = 12
BATCH = 32
LEARNING_RATE = 1e-3
SAMPLED_ELEMENTS = 8  # per layer, in 7.activations.json
# Most a tf_keras output may differ from Keras 3's on the same weights and pixels.
SAME_NETWORK_TOLERANCE = 1e-5

ENV = {**mkf.ENV_DEFAULTS, "TF_ENABLE_ONEDNN_OPTS": "0"}


def _set_env() -> None:
    for key, value in ENV.items():
        os.environ.setdefault(key, value)


def digit_pixels(np):
    """sklearn's digits as 28x28 uint8 images (stroke bright), and their labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = []
    for image in digits.images:  # float, 0 (background) .. 16 (stroke)
        grey = Image.fromarray((image * (255.0 / 16.0)).astype(np.float32))  # mode "F"
        big = np.asarray(grey.resize((SIDE, SIDE), Image.Resampling.BILINEAR))
        images.append(np.clip(np.rint(big), 0, 255).astype(np.uint8))
    return np.stack(images), digits.target.astype(np.int64)


def unit(np, pixels):
    """uint8 pixels (N, 28, 28) as the model's input: /255, float32, a channel axis."""
    return (pixels.astype(np.float32) / np.float32(255.0))[..., None]


def read_png(np, path: Path):
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def layer_outputs(c: mkf.Ctx, model, x):
    """Every layer's output for input x, as Keras computes it: [(layer, array)]."""
    probe = c.K.Model(model.inputs, [layer.output for layer in model.layers])
    return list(zip(model.layers, [out.numpy() for out in c.tf.nest.flatten(probe([x], training=False))]))


def output_stats(np, values) -> dict:
    v = values.astype(np.float64)
    return {
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "zeros": float((v == 0).mean()),
    }


def activations_truth(c: mkf.Ctx, model, x) -> dict:
    np = c.np
    rng = np.random.default_rng(SEED)
    layers = []
    for index, (layer, out) in enumerate(layer_outputs(c, model, x), start=1):
        flat = out.reshape(-1)
        picks = sorted(rng.choice(flat.size, size=min(SAMPLED_ELEMENTS, flat.size), replace=False).tolist())
        entry = {
            "index": index,  # as `cnninspect shapes` numbers it (the InputLayer is 0)
            "name": layer.name,
            "class_name": layer.__class__.__name__,
            "shape": list(out.shape),
            "stats": output_stats(np, out),
            "samples": [[list(map(int, np.unravel_index(i, out.shape))), float(flat[i])] for i in picks],
        }
        if out.ndim == 4:  # (batch, h, w, maps): the maps that are zero everywhere
            entry["dead_maps"] = [int(m) for m in np.flatnonzero(~out[0].any(axis=(0, 1)))]
        layers.append(entry)
    return {"layers": layers, "softmax": [float(p) for p in out.reshape(-1)]}


def predictions(c: mkf.Ctx, model, names: list[str]) -> list[list[float]]:
    np = c.np
    x = unit(np, np.stack([read_png(np, DIGITS / name) for name in names]))
    return [[float(p) for p in row] for row in model(x, training=False).numpy()]


def versions(c: mkf.Ctx) -> dict:
    import h5py
    import PIL
    import sklearn

    return {
        "python": platform.python_version(),
        "tensorflow": c.tf.__version__,
        "keras": c.K.__version__,
        "scikit-learn": sklearn.__version__,
        "pillow": PIL.__version__,
        "numpy": c.np.__version__,
        "h5py": h5py.__version__,
    }


def train(c: mkf.Ctx, x_train, y_train):
    """Build the sample network, train it; return its weights."""
    c.reset(SEED)
    model = mkf.build_mnist_cnn(c)
    model.compile(
        optimizer=c.K.optimizers.Adam(LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = time.time()
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH, shuffle=True, verbose=2)
    print(f"trained in {time.time() - started:.1f} s", flush=True)
    return model.get_weights()


def save_sample(c: mkf.Ctx, weights, stem: str):
    """The network built afresh (uncompiled, the fixture's names), given the weights, saved
    with its truth; returns the saved file as the library reloads it."""
    c.reset(SEED)
    model = mkf.build_mnist_cnn(c)
    model.set_weights(weights)
    path = SAMPLES / f"{stem}.h5"
    model.save(path)
    mkf.write_json(SAMPLES / f"{stem}.truth.json", mkf.truth(c, model, path.name))
    return c.K.models.load_model(path, compile=False)


def save_digits(c: mkf.Ctx, pixels, labels, probabilities) -> list[str]:
    """For each class its most confidently right held-out image (the first of equals), and
    the first mistake, as PNGs; returns their names."""
    from PIL import Image

    np = c.np
    predicted = np.argmax(probabilities, axis=1)
    confidence = probabilities[np.arange(len(labels)), labels]
    DIGITS.mkdir(parents=True, exist_ok=True)
    for old in DIGITS.glob("*.png"):
        old.unlink()
    chosen: dict[str, int] = {}
    for label in range(10):
        right = np.flatnonzero((labels == label) & (predicted == label))
        chosen[f"{label}.png"] = int(right[np.argmax(confidence[right])])
    wrong = np.flatnonzero(predicted != labels)
    if wrong.size:
        i = int(wrong[0])
        chosen[f"{labels[i]}_as_{predicted[i]}.png"] = i
    for name, i in chosen.items():
        Image.fromarray(pixels[i]).save(DIGITS / name, optimize=True)
        assert np.array_equal(read_png(np, DIGITS / name), pixels[i]), name
    return list(chosen)


def keras3_main() -> int:
    _set_env()
    c = mkf.Ctx("keras3")
    np, tf = c.np, c.tf
    tf.config.experimental.enable_op_determinism()
    from sklearn.model_selection import train_test_split

    pixels, labels = digit_pixels(np)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=HELD_OUT, stratify=labels, random_state=SEED
    )
    weights = train(c, unit(np, pixels[train_idx]), labels[train_idx])
    model = save_sample(c, weights, "mnist_cnn")

    def accuracy(idx) -> tuple[float, object]:
        probabilities = model.predict(unit(np, pixels[idx]), batch_size=256, verbose=0)
        return float((np.argmax(probabilities, axis=1) == labels[idx]).mean()), probabilities

    train_accuracy, _ = accuracy(train_idx)
    test_accuracy, test_probabilities = accuracy(test_idx)
    test_errors = int(round((1 - test_accuracy) * len(test_idx)))
    print(f"held-out accuracy {test_accuracy:.4f} ({len(test_idx)} images), train {train_accuracy:.4f}")
    names = save_digits(c, pixels[test_idx], labels[test_idx], test_probabilities)
    probabilities = predictions(c, model, names)

    seven = unit(np, read_png(np, DIGITS / "7.png")[None])
    truth = activations_truth(c, model, seven)

    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "weights.npz", *weights)
        report = Path(tmp) / "tf_keras.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--tf-keras-from", str(Path(tmp) / "weights.npz")]
        subprocess.run([*cmd, "--names", ",".join(names), "--report", str(report)], env={**os.environ, **ENV}, check=True)
        other = json.loads(report.read_text())
    diff_softmax = float(np.abs(np.array(other["probabilities"]) - np.array(probabilities)).max())
    diff_layers = max(
        abs(a["stats"][k] - b["stats"][k])
        for a, b in zip(truth["layers"], other["seven"]["layers"])
        for k in ("min", "max", "mean", "std")
    )
    print(f"tf_keras file against Keras 3: softmax {diff_softmax:.2e}, 7's layer stats {diff_layers:.2e}")
    assert max(diff_softmax, diff_layers) <= SAME_NETWORK_TOLERANCE

    mkf.write_json(
        DIGITS / "7.activations.json",
        {
            "generated_by": "scripts/train_sample_mnist.py",
            "file": "sample_models/mnist_cnn.h5",
            "input": {
                "from": "sample_models/digits/7.png",
                "preprocess": "unit",
                "shape": list(seven.shape),
                "dtype": "float32",
                "stats": output_stats(np, seven),
            },
            "computed_by": "Keras 3: keras.Model(model.inputs, [layer.output for layer in model.layers])"
            " on the reloaded file, float32, batch of 1",
            "writer": c.writer(),
            **truth,
            "tf_keras_max_abs_difference": {"layer_stats": diff_layers, "softmax": diff_softmax},
        },
    )
    mkf.write_json(
        SAMPLES / "mnist_cnn.training.json",
        {
            "generated_by": "scripts/train_sample_mnist.py",
            "data": {
                "source": "sklearn.datasets.load_digits (8x8, grey levels 0-16, stroke bright)",
                "pixels": "x * 255 / 16, Pillow bilinear resize of the float image to 28x28, rounded to uint8",
                "preprocess": "unit: uint8 pixels / 255, float32, shape (28, 28, 1)",
                "split": f"sklearn train_test_split, stratified, test_size={HELD_OUT}, random_state={SEED}",
                "images": len(labels),
                "train": len(train_idx),
                "held_out": len(test_idx),
            },
            "training": {
                "seed": SEED,
                "epochs": EPOCHS,
                "batch_size": BATCH,
                "optimizer": f"Adam(learning_rate={LEARNING_RATE})",
                "loss": "sparse_categorical_crossentropy",
                "deterministic": "keras.utils.set_random_seed, tf.config.experimental.enable_op_determinism, TF_ENABLE_ONEDNN_OPTS=0",
            },
            "accuracy": {
                "train": train_accuracy,
                "held_out": test_accuracy,
                "held_out_errors": test_errors,
            },
            "versions": {**versions(c), "tf_keras": other["tf_keras"]},
            "files": {
                "mnist_cnn.h5": "Keras 3, trained here",
                "mnist_cnn_tfkeras.h5": "tf_keras, the same trained weights",
            },
            "digits": [
                {
                    "png": f"digits/{name}",
                    "label": int(name.split("_")[0].split(".")[0]),
                    "predicted": int(np.argmax(p)),
                    "probability": max(p),
                    "softmax": p,
                }
                for name, p in zip(names, probabilities)
            ],
            "digits_computed_by": "Keras 3 on the reloaded mnist_cnn.h5, from each PNG's pixels / 255",
            "tf_keras_max_abs_difference": {"softmax": diff_softmax},
        },
    )
    return 0


def tf_keras_main(weights_npz: Path, names: list[str], report: Path) -> int:
    """The trained weights into the tf_keras network, saved; its answers on the PNGs."""
    _set_env()
    c = mkf.Ctx("tf_keras")
    np = c.np
    with np.load(weights_npz) as arrays:
        weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    model = save_sample(c, weights, "mnist_cnn_tfkeras")
    seven = unit(np, read_png(np, DIGITS / "7.png")[None])
    mkf.write_json(
        report,
        {
            "tf_keras": c.K.__version__,
            "probabilities": predictions(c, model, names),
            "seven": activations_truth(c, model, seven),
        },
    )
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tf-keras-from", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--names", help=argparse.SUPPRESS)
    p.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.tf_keras_from:
        return tf_keras_main(args.tf_keras_from, args.names.split(","), args.report)
    return keras3_main()


if __name__ == "__main__":
    sys.exit(main())
