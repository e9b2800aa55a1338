#!/usr/bin/env python3
"""Write the hand-made Keras 1 fixtures of tests/fixtures/keras1extra/.

Keras 1 cannot be installed any more, so, like make_legacy_fixtures.py (whose writing
helpers and expected-JSON conventions this script reuses), each file is written with h5py
as Keras 1.2.1's ``model.save`` laid it out, and ``X.expected.json`` beside it gives the
truth COMPUTED BY HAND from the formulas of Keras 1's documentation and source
(``get_output_shape_for`` of each class; the "how" of every layer shows the arithmetic).

Facts imitated (read in Keras 1.2.2's source, keras/engine/topology.py, keras/layers/*.py):

keras1_merge_modes.h5
    Functional ``Model`` with ``Merge`` in every mode: concat (``concat_axis`` -1 and 1),
    sum, mul, ave, max, dot and cos with ``dot_axes``. Merge.get_output_shape_for: the
    element-wise modes keep the first shape; concat adds the axis; dot and cos drop the dot
    axis of each input and the second input's batch axis, then append 1 when one axis is
    left. Merge's config records ``mode``, ``concat_axis``, ``dot_axes`` (a pair once
    validated), ``mode_type`` ... and no ``trainable``.
keras1_th_layers.h5
    Sequential of a VGG-like 'th' model: ZeroPadding2D first (as Keras 1's VGG16 starts),
    Convolution2D, Cropping2D, UpSampling2D, MaxPooling2D, AveragePooling2D, Flatten,
    Dense. KERAS 1's get_config OF ZeroPadding2D, Cropping2D AND UpSampling2D (1.0 TO
    1.2.2) RECORDS NO ``dim_ordering``: such a layer took ``K.image_dim_ordering()``, the
    ordering of the model it was built in; convolutions and pooling record theirs.
keras1_th_3d.h5
    Functional 'th' model on 3-D data: ZeroPadding3D, Convolution3D (``kernel_dim1..3``,
    kernel stored ``(out, in, k1, k2, k3)``), Cropping3D, UpSampling3D, MaxPooling3D,
    GlobalAveragePooling3D, and a second input through GlobalMaxPooling2D, merged by concat.
keras1_local.h5
    LocallyConnected1D (``nb_filter``, ``filter_length``, ``subsample_length``; W
    ``(output_length, filter_length * input_dim, nb_filter)``, b ``(output_length,
    nb_filter)``) and LocallyConnected2D in 'th' and 'tf' (W ``(output_row * output_col,
    nb_row * nb_col * input_channels, nb_filter)``, b ``(output_row, output_col, nb_filter)``
    in both orderings), only 'valid' borders (the only mode Keras 1 accepts).
keras1_more.h5
    Keras 1 activation classes Keras 2 dropped: ParametricSoftplus (alphas, betas of the
    input's shape without the batch) and SReLU (t_left, a_left, t_right, a_right, likewise).

Weight names are TensorFlow's (``<layer>_W:0``): these models were saved on Keras 1's
TensorFlow backend, so no kernel is flipped.

Run:  python scripts/make_keras1_extra_fixtures.py      (deterministic)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_legacy_fixtures as lf  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "keras1extra"
lf.OUT_DIR = OUT_DIR  # its writers (save_fixture, write_expected, check_fixture) write here
TF = "tensorflow"
CONV3D_TH = ["out", "in", "kd", "kh", "kw"]


def k1w(lname, *suffixes):
    return [f"{lname}_{s}:0" for s in suffixes]


def save(fname, imitates, layers, config, class_name, inputs, outputs, seed, notes=()):
    layer_names = [spec["name"] for spec in layers]

    def write(f):
        rng = np.random.RandomState(seed)
        f.attrs["keras_version"] = np.bytes_(b"1.2.1")
        lf.set_json(f, "model_config", {"class_name": class_name, "config": config}, "fixed")
        lf.write_weight_groups(f.create_group("model_weights"), layer_names, layers, rng, "fixed")

    doc = lf.expected_doc(fname, imitates, layers, "model_weights/", inputs=inputs, outputs=outputs, notes=notes)
    lf.save_fixture(doc, write)


def input_layer(name, shape):
    return lf.node_entry("InputLayer", lf.k1_input(name, [None, *shape]), [])


def merge(name, mode, inbound, concat_axis=-1, dot_axes=-1):
    cfg = lf.k1_merge(name, mode, concat_axis)
    cfg["dot_axes"] = dot_axes
    return lf.node_entry("Merge", cfg, [[[x, 0, 0] for x in inbound]])


def keras1_merge_modes():
    L = lf.layer
    layers = [
        L("input_1", "InputLayer", [[None, 6]], 0, "Input(shape=(6,))"),
        L("input_2", "InputLayer", [[None, 6]], 0, "Input(shape=(6,))"),
        L("input_3", "InputLayer", [[None, 3, 6]], 0, "Input(shape=(3, 6))"),
        L("input_4", "InputLayer", [[None, 2, 6]], 0, "Input(shape=(2, 6))"),
        L("merge_1", "Merge", [[None, 12]], 0, "concat, concat_axis -1: 6+6=12"),
        L("merge_2", "Merge", [[None, 6]], 0, "sum: the first input's shape"),
        L("merge_3", "Merge", [[None, 6]], 0, "mul: the first input's shape"),
        L("merge_4", "Merge", [[None, 6]], 0, "ave: the first input's shape"),
        L("merge_5", "Merge", [[None, 6]], 0, "max: the first input's shape"),
        L("merge_6", "Merge", [[None, 1]], 0, "dot, dot_axes (1, 1): (None,6) drops axis 1 -> (None,); "
          "(None,6) drops axis 1 and the batch -> (); (None,) + () has one axis: append 1 -> (None, 1)"),
        L("merge_7", "Merge", [[None, 1]], 0, "cos, dot_axes (1, 1): as dot -> (None, 1)"),
        L("merge_8", "Merge", [[None, 5, 6]], 0, "concat, concat_axis 1: 3+2=5 -> (None, 5, 6)"),
        L("merge_9", "Merge", [[None, 3, 2]], 0, "dot, dot_axes (2, 2): (None,3,6) -> (None,3); "
          "(None,2,6) -> (2,) without the batch; (None, 3, 2)"),
        L("dense_1", "Dense", [[None, 2]], 26, "output_dim 2 on the concat's 12: 12*2+2=26",
          lf.dense_weights(*k1w("dense_1", "W", "b"), 12, 2)),
    ]
    config = {"name": "model_1", "layers": [
        input_layer("input_1", [6]), input_layer("input_2", [6]), input_layer("input_3", [3, 6]),
        input_layer("input_4", [2, 6]),
        merge("merge_1", "concat", ["input_1", "input_2"], concat_axis=-1),
        merge("merge_2", "sum", ["input_1", "input_2"]),
        merge("merge_3", "mul", ["input_1", "input_2"]),
        merge("merge_4", "ave", ["input_1", "input_2"]),
        merge("merge_5", "max", ["input_1", "input_2"]),
        merge("merge_6", "dot", ["input_1", "input_2"], dot_axes=[1, 1]),
        merge("merge_7", "cos", ["input_1", "input_2"], dot_axes=[1, 1]),
        merge("merge_8", "concat", ["input_3", "input_4"], concat_axis=1),
        merge("merge_9", "dot", ["input_3", "input_4"], dot_axes=[2, 2]),
        lf.node_entry("Dense", lf.k1_dense("dense_1", 2), lf.called_on("merge_1")),
    ], "input_layers": [[f"input_{i}", 0, 0] for i in range(1, 5)],
        "output_layers": [[f"merge_{i}", 0, 0] for i in range(2, 10)] + [["dense_1", 0, 0]]}
    outputs = [{"name": s["name"], "shape": s["output_shapes"][0]} for s in layers[5:]]
    save("keras1_merge_modes.h5", "Keras 1.2.1 functional Model with Merge in every mode", layers, config, "Model",
         [{"name": s["name"], "shape": s["output_shapes"][0]} for s in layers[:4]], outputs, 301)


def keras1_th_layers():
    L = lf.layer
    layers = [
        L("zeropadding2d_1", "ZeroPadding2D", [[None, 3, 12, 16]], 0,
          "th, padding (1, 2): rows 10+1+1=12, cols 12+2+2=16; ordering inherited (not in its config)"),
        L("convolution2d_1", "Convolution2D", [[None, 4, 10, 14]], 112,
          "th, valid 3x3: (12-3)+1=10, (16-3)+1=14; params 4*3*3*3+4=112",
          lf.conv_weights(*k1w("convolution2d_1", "W", "b"), [4, 3, 3, 3], 4, lf.TH, False)),
        L("cropping2d_1", "Cropping2D", [[None, 4, 8, 12]], 0, "th, cropping ((1,1),(2,0)): 10-2=8, 14-2=12"),
        L("upsampling2d_1", "UpSampling2D", [[None, 4, 16, 12]], 0, "th, size (2, 1): 8*2=16, 12*1=12"),
        L("maxpooling2d_1", "MaxPooling2D", [[None, 4, 8, 6]], 0, "th, pool 2x2 stride 2 valid: (16-2)//2+1=8, (12-2)//2+1=6"),
        L("averagepooling2d_1", "AveragePooling2D", [[None, 4, 4, 2]], 0,
          "th, pool (2,3), strides = pool: (8-2)//2+1=4, (6-3)//3+1=2"),
        L("flatten_1", "Flatten", [[None, 32]], 0, "4*4*2=32, in (channels, rows, cols) order"),
        L("dense_1", "Dense", [[None, 3]], 99, "output_dim 3: 32*3+3=99", lf.dense_weights(*k1w("dense_1", "W", "b"), 32, 3)),
    ]
    zp = lf.simple("zeropadding2d_1", {"padding": [1, 2], "batch_input_shape": [None, 3, 10, 12], "input_dtype": "float32"})
    config = [
        lf.seq_entry("ZeroPadding2D", zp),
        lf.seq_entry("Convolution2D", lf.k1_conv("convolution2d_1", 4, 3, 3, "valid", [1, 1], "th", activation="relu")),
        lf.seq_entry("Cropping2D", lf.simple("cropping2d_1", {"cropping": [[1, 1], [2, 0]]})),
        lf.seq_entry("UpSampling2D", lf.simple("upsampling2d_1", {"size": [2, 1]})),
        lf.seq_entry("MaxPooling2D", lf.k1_maxpool("maxpooling2d_1", [2, 2], [2, 2], "valid", "th")),
        lf.seq_entry("AveragePooling2D", lf.k1_maxpool("averagepooling2d_1", [2, 3], [2, 3], "valid", "th")),
        lf.seq_entry("Flatten", lf.simple("flatten_1")),
        lf.seq_entry("Dense", lf.k1_dense("dense_1", 3, activation="softmax")),
    ]
    save("keras1_th_layers.h5", "Keras 1.2.1 Sequential in th ordering; padding, cropping and upsampling "
         "record no dim_ordering", layers, config, "Sequential",
         [{"name": None, "shape": [None, 3, 10, 12]}], [{"name": "dense_1", "shape": [None, 3]}], 302,
         notes=["ZeroPadding2D, Cropping2D and UpSampling2D of Keras 1 do not save dim_ordering: they used "
                "the model's (th here, as every layer that records one says)."])


def keras1_th_3d():
    L = lf.layer
    layers = [
        L("input_1", "InputLayer", [[None, 2, 4, 6, 6]], 0, "Input(shape=(2, 4, 6, 6)), th"),
        L("input_2", "InputLayer", [[None, 3, 8, 8]], 0, "Input(shape=(3, 8, 8)), th"),
        L("zeropadding3d_1", "ZeroPadding3D", [[None, 2, 6, 8, 8]], 0, "th, padding (1,1,1): 4+2, 6+2, 6+2"),
        L("convolution3d_1", "Convolution3D", [[None, 3, 4, 6, 6]], 165,
          "th, valid 3x3x3: 6-2=4, 8-2=6, 8-2=6; params 3*2*27+3=165",
          lf.conv_weights(*k1w("convolution3d_1", "W", "b"), [3, 2, 3, 3, 3], 3, CONV3D_TH, False)),
        L("cropping3d_1", "Cropping3D", [[None, 3, 2, 4, 4]], 0, "th, cropping ((1,1),(0,2),(1,1)): 4-2, 6-2, 6-2"),
        L("upsampling3d_1", "UpSampling3D", [[None, 3, 2, 8, 8]], 0, "th, size (1,2,2): 2, 8, 8"),
        L("maxpooling3d_1", "MaxPooling3D", [[None, 3, 1, 4, 4]], 0, "th, pool 2x2x2 valid: (2-2)//2+1=1, 4, 4"),
        L("globalaveragepooling3d_1", "GlobalAveragePooling3D", [[None, 3]], 0, "th: (samples, channels)"),
        L("globalmaxpooling2d_1", "GlobalMaxPooling2D", [[None, 3]], 0, "th: (samples, channels)"),
        L("merge_1", "Merge", [[None, 6]], 0, "concat -1: 3+3"),
    ]
    pool3 = lf.simple("maxpooling3d_1", {"pool_size": [2, 2, 2], "strides": [2, 2, 2], "border_mode": "valid",
                                         "dim_ordering": "th"})
    conv3 = lf.k1_base("convolution3d_1")
    conv3.update({"nb_filter": 3, "kernel_dim1": 3, "kernel_dim2": 3, "kernel_dim3": 3, "init": "glorot_uniform",
                  "activation": "linear", "border_mode": "valid", "subsample": [1, 1, 1], "dim_ordering": "th"})
    conv3.update(lf.k1_regularizers("W", "b"))
    conv3["bias"] = True
    config = {"name": "model_1", "layers": [
        input_layer("input_1", [2, 4, 6, 6]), input_layer("input_2", [3, 8, 8]),
        lf.node_entry("ZeroPadding3D", lf.simple("zeropadding3d_1", {"padding": [1, 1, 1]}), lf.called_on("input_1")),
        lf.node_entry("Convolution3D", conv3, lf.called_on("zeropadding3d_1")),
        lf.node_entry("Cropping3D", lf.simple("cropping3d_1", {"cropping": [[1, 1], [0, 2], [1, 1]]}),
                      lf.called_on("convolution3d_1")),
        lf.node_entry("UpSampling3D", lf.simple("upsampling3d_1", {"size": [1, 2, 2]}), lf.called_on("cropping3d_1")),
        lf.node_entry("MaxPooling3D", pool3, lf.called_on("upsampling3d_1")),
        lf.node_entry("GlobalAveragePooling3D", lf.simple("globalaveragepooling3d_1", {"dim_ordering": "th"}),
                      lf.called_on("maxpooling3d_1")),
        lf.node_entry("GlobalMaxPooling2D", lf.simple("globalmaxpooling2d_1", {"dim_ordering": "th"}),
                      lf.called_on("input_2")),
        merge("merge_1", "concat", ["globalaveragepooling3d_1", "globalmaxpooling2d_1"]),
    ], "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]], "output_layers": [["merge_1", 0, 0]]}
    save("keras1_th_3d.h5", "Keras 1.2.1 functional Model on 3-D data in th ordering", layers, config, "Model",
         [{"name": "input_1", "shape": [None, 2, 4, 6, 6]}, {"name": "input_2", "shape": [None, 3, 8, 8]}],
         [{"name": "merge_1", "shape": [None, 6]}], 303)


def keras1_local():
    L = lf.layer
    w = lf.w
    layers = [
        L("input_1", "InputLayer", [[None, 10, 6]], 0, "Input(shape=(10, 6))"),
        L("input_2", "InputLayer", [[None, 3, 7, 8]], 0, "Input(shape=(3, 7, 8)), th"),
        L("input_3", "InputLayer", [[None, 6, 6, 2]], 0, "Input(shape=(6, 6, 2)), tf"),
        L("locallyconnected1d_1", "LocallyConnected1D", [[None, 4, 4]], 304,
          "filter_length 3, subsample_length 2, valid: (10-3)//2+1=4; W (4, 3*6, 4)=288, b (4, 4)=16",
          [w("locallyconnected1d_1_W:0", "kernel", [4, 18, 4], ["positions", "patch", "out"]),
           w("locallyconnected1d_1_b:0", "bias", [4, 4], ["ow", "out"])]),
        L("locallyconnected2d_1", "LocallyConnected2D", [[None, 5, 3, 7]], 1995,
          "th, 3x2, subsample (2,1), valid: (7-3)//2+1=3, (8-2)//1+1=7; W (3*7, 3*2*3, 5)=1890, b (3, 7, 5)=105",
          [w("locallyconnected2d_1_W:0", "kernel", [21, 18, 5], ["positions", "patch", "out"]),
           w("locallyconnected2d_1_b:0", "bias", [3, 7, 5], ["oh", "ow", "out"])]),
        L("locallyconnected2d_2", "LocallyConnected2D", [[None, 5, 5, 3]], 675,
          "tf, 2x2, valid: 6-1=5, 5; W (25, 2*2*2, 3)=600, b (5, 5, 3)=75",
          [w("locallyconnected2d_2_W:0", "kernel", [25, 8, 3], ["positions", "patch", "out"]),
           w("locallyconnected2d_2_b:0", "bias", [5, 5, 3], ["oh", "ow", "out"])]),
        L("flatten_1", "Flatten", [[None, 16]], 0, "4*4"),
        L("flatten_2", "Flatten", [[None, 105]], 0, "5*3*7"),
        L("flatten_3", "Flatten", [[None, 75]], 0, "5*5*3"),
        L("merge_1", "Merge", [[None, 196]], 0, "concat: 16+105+75"),
        L("dense_1", "Dense", [[None, 2]], 394, "196*2+2", lf.dense_weights(*k1w("dense_1", "W", "b"), 196, 2)),
    ]
    lc1 = lf.k1_base("locallyconnected1d_1")
    lc1.update({"nb_filter": 4, "filter_length": 3, "init": "glorot_uniform", "activation": "relu",
                "border_mode": "valid", "subsample_length": 2, **lf.k1_regularizers("W", "b"), "bias": True,
                "input_dim": None, "input_length": None})

    def lc2(name, nb_filter, nb_row, nb_col, subsample, ordering):
        cfg = lf.k1_base(name)
        cfg.update({"nb_filter": nb_filter, "nb_row": nb_row, "nb_col": nb_col, "init": "glorot_uniform",
                    "activation": "linear", "border_mode": "valid", "subsample": subsample, "dim_ordering": ordering,
                    **lf.k1_regularizers("W", "b"), "bias": True})
        return cfg

    config = {"name": "model_1", "layers": [
        input_layer("input_1", [10, 6]), input_layer("input_2", [3, 7, 8]), input_layer("input_3", [6, 6, 2]),
        lf.node_entry("LocallyConnected1D", lc1, lf.called_on("input_1")),
        lf.node_entry("LocallyConnected2D", lc2("locallyconnected2d_1", 5, 3, 2, [2, 1], "th"), lf.called_on("input_2")),
        lf.node_entry("LocallyConnected2D", lc2("locallyconnected2d_2", 3, 2, 2, [1, 1], "tf"), lf.called_on("input_3")),
        lf.node_entry("Flatten", lf.simple("flatten_1"), lf.called_on("locallyconnected1d_1")),
        lf.node_entry("Flatten", lf.simple("flatten_2"), lf.called_on("locallyconnected2d_1")),
        lf.node_entry("Flatten", lf.simple("flatten_3"), lf.called_on("locallyconnected2d_2")),
        merge("merge_1", "concat", ["flatten_1", "flatten_2", "flatten_3"]),
        lf.node_entry("Dense", lf.k1_dense("dense_1", 2), lf.called_on("merge_1")),
    ], "input_layers": [["input_1", 0, 0], ["input_2", 0, 0], ["input_3", 0, 0]],
        "output_layers": [["dense_1", 0, 0]]}
    save("keras1_local.h5", "Keras 1.2.1 functional Model with LocallyConnected1D/2D (th and tf)", layers, config,
         "Model", [{"name": s["name"], "shape": s["output_shapes"][0]} for s in layers[:3]],
         [{"name": "dense_1", "shape": [None, 2]}], 304)


def keras1_more():
    L = lf.layer
    w = lf.w
    generic = ["d0"]  # a learned vector of the input's shape: no axis of a known kind
    layers = [
        L("parametricsoftplus_1", "ParametricSoftplus", [[None, 4]], 8, "same shape; alphas, betas (4,)",
          [w("parametricsoftplus_1_alphas:0", "alpha", [4], generic),
           w("parametricsoftplus_1_betas:0", "betas", [4], generic)]),
        L("srelu_1", "SReLU", [[None, 4]], 16, "same shape; t_left, a_left, t_right, a_right (4,)",
          [w(f"srelu_1_{n}:0", n, [4], generic) for n in ("t_left", "a_left", "t_right", "a_right")]),
    ]
    psp = lf.simple("parametricsoftplus_1", {"alpha_init": 0.2, "beta_init": 5.0, "batch_input_shape": [None, 4],
                                             "input_dtype": "float32"})
    config = [
        lf.seq_entry("ParametricSoftplus", psp),
        lf.seq_entry("SReLU", lf.simple("srelu_1", {"t_left_init": "zero", "a_left_init": "glorot_uniform",
                                                    "t_right_init": "glorot_uniform", "a_right_init": "one"})),
    ]
    save("keras1_more.h5", "Keras 1.2.1 Sequential of activation classes Keras 2 dropped", layers, config, "Sequential",
         [{"name": None, "shape": [None, 4]}], [{"name": "srelu_1", "shape": [None, 4]}], 305)


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for make in (keras1_merge_modes, keras1_th_layers, keras1_th_3d, keras1_local, keras1_more):
        make()
        print("wrote", make.__name__)


if __name__ == "__main__":
    main()
