#!/usr/bin/env python3
"""Write the hand-made legacy Keras HDF5 fixtures in tests/fixtures/legacy/.

Why hand-written: the libraries that wrote these files (Keras 1.0 to 1.2,
Keras 2 on Theano, Keras 2.0 to 2.2 with their own h5py 2.x) cannot be
installed any more.  Each file below is therefore written directly with h5py
and numpy, laid out the way those writers laid out their files: the same
root attributes, the same groups, the same attribute string types and the
same weight names.  The weight values are random (fixed seed per file); only
names, shapes and layout matter.

Next to every ``X.h5`` the script writes ``X.expected.json``: the truth for
that file, computed by hand.  The output shapes, the parameter counts and the
"how" lines are literals typed into this script, never computed by a reader.
The only thing the script checks on its own output is internal consistency
(every weight listed in the JSON exists with that shape, and each layer's
params equal the sum of its weight sizes).

Run:  python scripts/make_legacy_fixtures.py      (deterministic; same bytes
on every run with the same Python, h5py and numpy)

Conventions of the expected JSON
--------------------------------
* ``weights[].name`` is the dataset path from the file root, without a
  leading slash (``model_weights/conv2d_1/conv2d_1_1/kernel:0``).
* ``axes``: conv kernels ``["out","in","kh","kw"]`` (Keras 1 ``th``) or
  ``["kh","kw","in","out"]`` (Keras 1 ``tf`` and every Keras 2 file); Dense
  kernels ``["in","out"]``; biases ``["out"]``; BatchNormalization vectors
  ``["channels"]``.
* ``flipped`` is true only for conv kernels trained by a backend that computes
  a true convolution (Theano); false everywhere else.
* ``params`` counts every stored weight (trainable and not).
* ``output_shapes`` has one shape per call of the layer, ``null`` for the
  batch dimension, and ``null`` for a shape that cannot be known from the
  file (downstream of a Lambda without ``output_shape``).
* ``inputs``/``outputs`` name ``null`` for the implicit input of a
  Sequential model: the file does not record that name.
* Extra keys ``notes`` (file level) and ``note`` (layer or weight level)
  explain choices; they are not part of the checked truth.

The files and the FIELD_NOTES facts each reproduces
---------------------------------------------------
keras1_2_seq_th.h5
    Keras 1.2.1 ``model.save`` of a Sequential model.  Root attributes
    ``keras_version`` = "1.2.1" and no ``backend``; ``model_config`` (bytes)
    whose ``config`` is a BARE LIST of layers; Keras 1 class and argument
    names (Convolution2D nb_filter/nb_row/nb_col/border_mode/subsample/
    dim_ordering, MaxPooling2D pool_size/strides/border_mode, Dense
    output_dim, Dropout p, batch_input_shape on the first layer);
    ``dim_ordering: th`` kernels stored ``(out, in, kh, kw)``; weight names
    ``convolution2d_1_W:0``; ``layer_names``/``weight_names`` as fixed-length
    ``S<n>`` byte strings; an empty ``weight_names`` stored as a float64 array
    of shape (0,); ``training_config`` and an ``optimizer_weights`` group that
    are not layers (one of them a scalar dataset).
    Flipped = false: the ``:0`` suffix is TensorFlow's variable naming (a
    Theano shared variable has no ``:0``), and Keras 1's TensorFlow backend
    only transposes ``th`` kernels, it does not flip them.
keras1_2_functional_tf.h5
    Keras 1.2.1 functional ``Model``: two Input layers, ``Merge(mode=concat,
    concat_axis=-1)`` and ``Merge(mode=sum)``, Convolution2D with
    ``border_mode='full'``, AtrousConvolution2D (``atrous_rate``),
    BatchNormalization with Keras 1 weights gamma/beta/running_mean/
    running_std; ``dim_ordering: tf`` so kernels are ``(kh, kw, in, out)``;
    ``input_layers``/``output_layers`` as lists of ``[name, 0, 0]``;
    ``inbound_nodes`` as lists of ``[layer_name, node_index, tensor_index]``;
    ``model_config`` stored as bytes.  ``border_mode='full'`` exists only on
    the Theano backend, so this model was trained on Theano: weight names have
    no ``:0`` and every conv kernel is flipped although its layout is
    ``tf``.
keras1_0_weights_only.h5
    Keras 1.0/1.1 ``save_weights``: no ``keras_version``, ``backend`` or
    ``model_config``; ``layer_names`` on the root; weight names without
    ``:0`` (``convolution2d_1_W``, a Theano-trained ``th`` model, so the conv
    kernel is ``(out, in, kh, kw)`` and flipped); weightless layers whose
    ``weight_names`` is a float64 array of shape (0,).  No architecture: the
    expected JSON has weights only.
keras2_0_5_inner_suffix.h5
    Keras 2.0.5 full model, ``backend`` "tensorflow", Sequential config as a
    bare list; weight names with the inner suffix
    (``conv2d_1/conv2d_1_1/kernel:0``,
    ``batch_normalization_1/batch_normalization_1_1/gamma:0``); HWIO kernels;
    ``model_weights`` also carries ``backend`` and ``keras_version`` as
    Keras 2's weight writer did.  Conv2D + BatchNormalization + Activation +
    GlobalAveragePooling2D + Dense.
keras2_theano.h5
    Keras 2.1.2 full model with ``backend`` "theano": weight names without
    ``:0`` (``conv2d_1/conv2d_1/kernel``), ``data_format: channels_first``
    convs on a (3, 32, 32) input whose kernels are nevertheless stored
    ``(kh, kw, in, out)``, and flipped because Theano trained them for a true
    convolution.  Covers 'same' with stride 2 (ceil) and 'valid' with
    stride 2 (floor).
keras2_chunked_names.h5
    Keras 2.2.4 (tensorflow) functional model with an Input and 40 Dense
    layers.  ``layer_names`` is split into ``layer_names0``,
    ``layer_names1``, ``layer_names2`` (all chunks share one ``S<n>`` dtype,
    as ``np.array_split`` of one array gives), and ``dense_7``'s
    ``weight_names`` into ``weight_names0``/``weight_names1``.  The real
    writer splits only past the 64 KiB object-header limit (64512 bytes);
    these lists are far smaller, so THE SPLIT IS FORCED here.  Also:
    ``inbound_nodes`` entries in the 4-element form
    ``[name, node_index, tensor_index, {}]`` and a shared layer (``dense_2``
    called twice, so two call nodes and two output shapes).
keras1_lambda.h5
    Keras 1.2.1 functional model with two Lambda layers.  ``lambda_1`` carries
    ``function`` as Keras 1.2's ``func_dump`` wrote it: a list ``[code,
    defaults, closure]`` whose ``code`` is ``marshal.dumps(code_object)``
    decoded with ``raw_unicode_escape`` (Keras 2.1+ used base64 instead).
    RUNNING THAT BYTECODE WOULD CREATE /tmp/cnninspect_pwned: a reader must
    never unmarshal or call it.  It has no ``output_shape``, so its output and
    the next layer's are unknown (null).  ``lambda_2`` states
    ``output_shape: [6]``, which makes the shape known again.  The bytecode is
    the generating CPython's (a real 2017 file held CPython 2.7/3.5 bytecode);
    that is deliberate, so that a careless reader would really run it.
keras2_vlen_strings.h5
    Keras 2.2.4 (tensorflow) Sequential saved with the newer Sequential
    config ``{"name", "layers"}``; ``model_config``, ``keras_version``,
    ``backend``, ``layer_names`` and ``weight_names`` stored as
    variable-length UTF-8 ``str`` (h5py ``string_dtype``) instead of bytes;
    one layer named ``dense_é`` (non-ASCII group, layer and weight names).
    No ``training_config``.
keras1_seq_merge_branches.h5
    Keras 1.2.1 Sequential whose first layer is a ``Merge`` of two Sequential
    branches: the config's first entry is ``{"class_name": "Merge", "config":
    {..., "layers": [{"class_name": "Sequential", "config": [...]}, ...]}}``
    and ``layer_names`` lists the branches' layers then the rest, WITHOUT the
    Merge layer (Keras 1's ``flattened_layers``).

Sources checked (public Keras source, read to confirm the layouts above):
Keras 1.2 ``keras/models.py`` (save_model, Sequential.get_config with the
Merge branch, flattened_layers), ``keras/engine/topology.py`` (Layer,
InputLayer, Merge, Container.get_config, save_weights_to_hdf5_group),
``keras/layers/convolutional.py`` (Convolution2D, AtrousConvolution2D
get_config and output shapes), the Keras 1 Theano and TensorFlow backends
(conv2d kernel handling, variable naming), Keras 2's
``save_attributes_to_hdf5_group`` (chunking) and Keras 2.2's
``keras/engine/sequential.py`` (dict config).
"""

import json
import marshal
import types
from pathlib import Path

import h5py
import numpy as np

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "legacy"

TH = ["out", "in", "kh", "kw"]
HWIO = ["kh", "kw", "in", "out"]
DENSE = ["in", "out"]
BIAS = ["out"]
CHANNELS = ["channels"]

PWNED_PATH = "/tmp/cnninspect_pwned"
# Never executed by this script: compiled, marshalled and stored only.
PAYLOAD_SRC = "lambda x: (open(%r, 'w').close(), x)[1]" % PWNED_PATH
HARMLESS_SRC = "lambda x: x * 2"


# ---------------------------------------------------------------------------
# Expected-truth building blocks
# ---------------------------------------------------------------------------

def w(rel, role, shape, axes, flipped=False, note=None):
    """One weight: ``rel`` is its name inside the layer's group."""
    d = {"rel": rel, "role": role, "shape": shape, "axes": axes, "flipped": flipped}
    if note:
        d["note"] = note
    return d


def layer(name, class_name, output_shapes, params, how, weights=(), note=None):
    d = {"name": name, "class_name": class_name, "output_shapes": output_shapes,
         "params": params, "weights": list(weights), "how": how}
    if note:
        d["note"] = note
    return d


def conv_weights(kernel_rel, bias_rel, kernel_shape, out, axes, flipped):
    return [w(kernel_rel, "kernel", kernel_shape, axes, flipped),
            w(bias_rel, "bias", [out], BIAS)]


def k1_names(lname, backend):
    """Keras 1 weight names ``<layer>_W``/``<layer>_b``: TensorFlow variables
    end in ':0', Theano shared variables do not."""
    tail = ":0" if backend == "tensorflow" else ""
    return lname + "_W" + tail, lname + "_b" + tail


def dense_weights(kernel_rel, bias_rel, n_in, n_out):
    return [w(kernel_rel, "kernel", [n_in, n_out], DENSE),
            w(bias_rel, "bias", [n_out], BIAS)]


def expected_doc(fname, imitates, layers, prefix, inputs, outputs, notes=()):
    out_layers = []
    for spec in layers:
        entry = {k: spec[k] for k in ("name", "class_name", "output_shapes", "params")}
        entry["weights"] = []
        for wt in spec["weights"]:
            item = {"name": prefix + spec["name"] + "/" + wt["rel"]}
            item.update({k: wt[k] for k in ("role", "shape", "axes", "flipped")})
            if "note" in wt:
                item["note"] = wt["note"]
            entry["weights"].append(item)
        entry["how"] = spec["how"]
        if "note" in spec:
            entry["note"] = spec["note"]
        out_layers.append(entry)
    doc = {"file": fname, "imitates": imitates, "layers": out_layers,
           "inputs": inputs, "outputs": outputs}
    if notes:
        doc["notes"] = list(notes)
    return doc


# ---------------------------------------------------------------------------
# HDF5 writing helpers (shared by every fixture)
# ---------------------------------------------------------------------------

def string_array(names, strings):
    """A list of names the way the writer stored it: 'fixed' = S<n> bytes
    (Keras + h5py 2.x), 'vlen' = variable-length UTF-8 str."""
    if strings == "fixed":
        return np.array([n.encode("utf8") for n in names], dtype="S")
    return np.array(names, dtype=h5py.string_dtype("utf-8"))


def scalar_string(value, strings):
    if strings == "fixed":
        return np.bytes_(value.encode("utf8"))
    return value  # h5py stores a Python str as a variable-length UTF-8 string


def set_name_list(obj, attr, names, strings, chunks=1):
    """Write a name-list attribute; ``chunks > 1`` imitates Keras's
    ``save_attributes_to_hdf5_group`` split into attr0, attr1, ..."""
    if not names:
        # Keras wrote ``attrs[attr] = []``; h5py made a float64 array of shape (0,).
        obj.attrs[attr] = np.zeros((0,), dtype="float64")
        return
    arr = string_array(names, strings)
    if chunks == 1:
        obj.attrs[attr] = arr
    else:
        for i, part in enumerate(np.array_split(arr, chunks)):
            obj.attrs["%s%d" % (attr, i)] = part


def set_json(obj, attr, value, strings):
    obj.attrs[attr] = scalar_string(json.dumps(value), strings)


def random_values(rng, wt):
    values = (rng.standard_normal(wt["shape"]) * 0.1).astype("float32")
    if wt["role"] in ("gamma", "moving_variance"):
        values = np.abs(values) + np.float32(0.5)
    return values


def write_weight_groups(parent, layer_names, layers, rng, strings,
                        layer_chunks=1, weight_chunks=None):
    """``layer_names`` attribute plus one group per listed layer, each with
    its ``weight_names`` attribute and datasets (a name with '/' makes the
    intermediate groups, as h5py did for Keras 2 names)."""
    weight_chunks = weight_chunks or {}
    set_name_list(parent, "layer_names", layer_names, strings, layer_chunks)
    by_name = {spec["name"]: spec for spec in layers}
    for lname in layer_names:
        group = parent.create_group(lname)
        weights = by_name[lname]["weights"]
        set_name_list(group, "weight_names", [wt["rel"] for wt in weights], strings,
                      weight_chunks.get(lname, 1))
        for wt in weights:
            group.create_dataset(wt["rel"], data=random_values(rng, wt))


def write_optimizer_weights(f, entries, rng, strings):
    """``optimizer_weights`` group: state of the optimizer, not layers."""
    group = f.create_group("optimizer_weights")
    set_name_list(group, "weight_names", [name for name, _ in entries], strings)
    for name, shape in entries:
        data = np.float32(0.0) if shape == [] else \
            (rng.standard_normal(shape) * 0.01).astype("float32")
        group.create_dataset(name, data=data)


def to_json(value, indent=0):
    """Indented JSON that keeps shape-like lists ([null, 4], [[null, 4]])
    on one line, for review by eye."""
    def flat(v):
        return not isinstance(v, (dict, list)) and not (isinstance(v, str) and len(v) > 24)
    if isinstance(value, list) and all(flat(v) or (isinstance(v, list) and all(map(flat, v)))
                                       for v in value):
        return json.dumps(value, ensure_ascii=False)
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        items = ["%s%s: %s" % (inner, json.dumps(k, ensure_ascii=False), to_json(v, indent + 2))
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        return "[\n" + ",\n".join(inner + to_json(v, indent + 2) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def write_expected(doc):
    path = OUT_DIR / doc["file"].replace(".h5", ".expected.json")
    text = to_json(doc) + "\n"
    assert json.loads(text) == doc
    path.write_text(text, encoding="utf-8")


def check_fixture(doc):
    """Internal consistency of this script's own output (not a reader)."""
    with h5py.File(OUT_DIR / doc["file"], "r") as f:
        for entry in doc["layers"]:
            total = 0
            for wt in entry["weights"]:
                got = list(f[wt["name"]].shape)
                assert got == wt["shape"], (doc["file"], wt["name"], got)
                total += int(np.prod(wt["shape"]))
            assert entry["params"] == total, (doc["file"], entry["name"], total)


def save_fixture(doc, write_h5):
    """Write X.h5 with ``write_h5(h5file)`` and X.expected.json, then check."""
    with h5py.File(OUT_DIR / doc["file"], "w") as f:
        write_h5(f)
    write_expected(doc)
    check_fixture(doc)


# ---------------------------------------------------------------------------
# Keras 1 config builders (get_config of Keras 1.2)
# ---------------------------------------------------------------------------

def k1_base(name, batch_input_shape=None):
    cfg = {"name": name, "trainable": True}
    if batch_input_shape is not None:
        cfg["batch_input_shape"] = batch_input_shape
        cfg["input_dtype"] = "float32"
    return cfg


def k1_regularizers(*prefixes):
    cfg = {}
    for p in prefixes:
        cfg[p + "_regularizer"] = None
    cfg["activity_regularizer"] = None
    for p in prefixes:
        cfg[p + "_constraint"] = None
    return cfg


def k1_conv(name, nb_filter, nb_row, nb_col, border_mode, subsample, dim_ordering,
            activation="linear", atrous_rate=None, batch_input_shape=None):
    cfg = k1_base(name, batch_input_shape)
    cfg.update({"nb_filter": nb_filter, "nb_row": nb_row, "nb_col": nb_col,
                "init": "glorot_uniform", "activation": activation,
                "border_mode": border_mode, "subsample": subsample,
                "dim_ordering": dim_ordering})
    cfg.update(k1_regularizers("W", "b"))
    cfg["bias"] = True
    if atrous_rate is not None:
        cfg["atrous_rate"] = atrous_rate
    return cfg


def k1_dense(name, output_dim, activation="linear", input_dim=None):
    cfg = k1_base(name, [None, input_dim] if input_dim else None)
    cfg.update({"output_dim": output_dim, "init": "glorot_uniform",
                "activation": activation})
    cfg.update(k1_regularizers("W", "b"))
    cfg.update({"bias": True, "input_dim": input_dim})
    return cfg


def k1_maxpool(name, pool_size, strides, border_mode, dim_ordering):
    cfg = k1_base(name)
    cfg.update({"pool_size": pool_size, "border_mode": border_mode,
                "strides": strides, "dim_ordering": dim_ordering})
    return cfg


def k1_batchnorm(name, axis):
    cfg = k1_base(name)
    cfg.update({"epsilon": 0.001, "mode": 0, "axis": axis,
                "gamma_regularizer": None, "beta_regularizer": None,
                "momentum": 0.99})
    return cfg


def k1_merge(name, mode, concat_axis=-1):
    # Merge.get_config of Keras 1.2 (Merge does not add 'trainable').
    return {"name": name, "mode": mode, "mode_type": "raw",
            "concat_axis": concat_axis, "dot_axes": -1,
            "output_shape": None, "output_shape_type": "raw",
            "output_mask": None, "output_mask_type": "raw", "arguments": {}}


def k1_input(name, batch_input_shape):
    return {"batch_input_shape": batch_input_shape, "input_dtype": "float32",
            "sparse": False, "name": name}


def k1_lambda(name, source, output_shape=None):
    cfg = k1_base(name)
    cfg.update({"function": keras12_func_dump(source), "function_type": "lambda",
                "output_shape": output_shape, "output_shape_type": "raw",
                "arguments": {}})
    return cfg


def keras12_func_dump(source):
    """What Keras 1.2's ``func_dump`` stored for a lambda: [code, defaults,
    closure], code = marshal bytes decoded with raw_unicode_escape.  The
    lambda is compiled, never called."""
    module_code = compile(source, "<keras-lambda>", "eval")
    code = next(c for c in module_code.co_consts if isinstance(c, types.CodeType))
    raw = marshal.dumps(code)
    text = raw.decode("raw_unicode_escape")
    assert text.encode("raw_unicode_escape") == raw, "bytecode does not round-trip"
    return [text, None, None]


def simple(name, extra=None):
    cfg = k1_base(name)
    cfg.update(extra or {})
    return cfg


def seq_entry(class_name, config):
    return {"class_name": class_name, "config": config}


def called_on(name):
    """Keras 1 inbound_nodes of a layer called once on ``name``'s output."""
    return [[[name, 0, 0]]]


def node_entry(class_name, config, inbound):
    """A functional-model layer entry; ``inbound`` is a list of call nodes."""
    return {"name": config["name"], "class_name": class_name, "config": config,
            "inbound_nodes": inbound}


K1_SGD_TRAINING = {
    "optimizer_config": {"class_name": "SGD", "config": {
        "lr": 0.009999999776482582, "momentum": 0.8999999761581421,
        "decay": 0.0, "nesterov": False}},
    "loss": "categorical_crossentropy", "metrics": ["accuracy"],
    "sample_weight_mode": None, "loss_weights": None}


# ---------------------------------------------------------------------------
# Keras 2 config builders (get_config of Keras 2.0 to 2.2)
# ---------------------------------------------------------------------------

GLOROT = {"class_name": "VarianceScaling", "config": {
    "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}}
ZEROS = {"class_name": "Zeros", "config": {}}
ONES = {"class_name": "Ones", "config": {}}


def k2_base(name, batch_input_shape=None):
    cfg = {"name": name, "trainable": True}
    if batch_input_shape is not None:
        cfg["batch_input_shape"] = batch_input_shape
        cfg["dtype"] = "float32"
    return cfg


def k2_weight_opts():
    return {"kernel_initializer": GLOROT, "bias_initializer": ZEROS,
            "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}


def k2_conv(name, filters, kernel_size, strides, padding, data_format,
            activation="linear", batch_input_shape=None):
    cfg = k2_base(name, batch_input_shape)
    cfg.update({"filters": filters, "kernel_size": kernel_size, "strides": strides,
                "padding": padding, "data_format": data_format,
                "dilation_rate": [1, 1], "activation": activation, "use_bias": True})
    cfg.update(k2_weight_opts())
    return cfg


def k2_dense(name, units, activation="linear", batch_input_shape=None):
    cfg = k2_base(name, batch_input_shape)
    cfg.update({"units": units, "activation": activation, "use_bias": True})
    cfg.update(k2_weight_opts())
    return cfg


def k2_batchnorm(name, axis):
    cfg = k2_base(name)
    cfg.update({"axis": axis, "momentum": 0.99, "epsilon": 0.001, "center": True,
                "scale": True, "beta_initializer": ZEROS, "gamma_initializer": ONES,
                "moving_mean_initializer": ZEROS, "moving_variance_initializer": ONES,
                "beta_regularizer": None, "gamma_regularizer": None,
                "beta_constraint": None, "gamma_constraint": None})
    return cfg


def k2_maxpool(name, pool_size, strides, padding, data_format):
    cfg = k2_base(name)
    cfg.update({"pool_size": pool_size, "padding": padding, "strides": strides,
                "data_format": data_format})
    return cfg


def k2_simple(name, extra=None):
    cfg = k2_base(name)
    cfg.update(extra or {})
    return cfg


K2_ADAM_TRAINING = {
    "optimizer_config": {"class_name": "Adam", "config": {
        "lr": 0.0010000000474974513, "beta_1": 0.8999999761581421,
        "beta_2": 0.9990000128746033, "epsilon": 1e-08, "decay": 0.0}},
    "loss": "categorical_crossentropy", "metrics": ["accuracy"],
    "sample_weight_mode": None, "loss_weights": None}


def write_keras2_full_model(f, version, backend, model_config, layer_names, layers,
                            rng, strings="fixed", training_config=None,
                            layer_chunks=1, weight_chunks=None):
    """Root and ``model_weights`` attributes as Keras 2's ``save_model``
    wrote them (the weights group also gets backend and keras_version)."""
    f.attrs["keras_version"] = scalar_string(version, strings)
    f.attrs["backend"] = scalar_string(backend, strings)
    set_json(f, "model_config", model_config, strings)
    if training_config is not None:
        set_json(f, "training_config", training_config, strings)
    group = f.create_group("model_weights")
    write_weight_groups(group, layer_names, layers, rng, strings,
                        layer_chunks, weight_chunks)
    group.attrs["backend"] = scalar_string(backend, strings)
    group.attrs["keras_version"] = scalar_string(version, strings)


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

def keras1_2_seq_th():
    fname = "keras1_2_seq_th.h5"
    tf = "tensorflow"
    layers = [
        layer("convolution2d_1", "Convolution2D", [[None, 4, 28, 28]], 40,
              "same: ceil(28/1)=28; params 4*1*3*3+4=40",
              conv_weights(*k1_names("convolution2d_1", tf), [4, 1, 3, 3], 4, TH, False)),
        layer("convolution2d_2", "Convolution2D", [[None, 4, 13, 13]], 148,
              "valid, stride 2: (28-3)//2+1=13; params 4*4*3*3+4=148",
              conv_weights(*k1_names("convolution2d_2", tf), [4, 4, 3, 3], 4, TH, False)),
        layer("maxpooling2d_1", "MaxPooling2D", [[None, 4, 6, 6]], 0,
              "valid pool 2, stride 2: (13-2)//2+1=6"),
        layer("dropout_1", "Dropout", [[None, 4, 6, 6]], 0, "identity shape"),
        layer("flatten_1", "Flatten", [[None, 144]], 0, "4*6*6=144"),
        layer("dense_1", "Dense", [[None, 10]], 1450,
              "output_dim 10; params 144*10+10=1450",
              dense_weights(*k1_names("dense_1", tf), 144, 10)),
    ]
    config = [
        seq_entry("Convolution2D", k1_conv("convolution2d_1", 4, 3, 3, "same", [1, 1], "th",
                                           activation="relu",
                                           batch_input_shape=[None, 1, 28, 28])),
        seq_entry("Convolution2D", k1_conv("convolution2d_2", 4, 3, 3, "valid", [2, 2], "th")),
        seq_entry("MaxPooling2D", k1_maxpool("maxpooling2d_1", [2, 2], [2, 2], "valid", "th")),
        seq_entry("Dropout", simple("dropout_1", {"p": 0.25})),
        seq_entry("Flatten", simple("flatten_1")),
        seq_entry("Dense", k1_dense("dense_1", 10, activation="softmax")),
    ]
    layer_names = [spec["name"] for spec in layers]
    # SGD with momentum: iterations (scalar) then one moment per weight.
    optimizer = [("Variable:0", []), ("Variable_4:0", [4, 1, 3, 3]), ("Variable_5:0", [4]),
                 ("Variable_6:0", [4, 4, 3, 3]), ("Variable_7:0", [4]),
                 ("Variable_8:0", [144, 10]), ("Variable_9:0", [10])]

    def write(f):
        rng = np.random.RandomState(101)
        f.attrs["keras_version"] = np.bytes_(b"1.2.1")
        set_json(f, "model_config", {"class_name": "Sequential", "config": config}, "fixed")
        write_weight_groups(f.create_group("model_weights"), layer_names, layers, rng, "fixed")
        set_json(f, "training_config", K1_SGD_TRAINING, "fixed")
        write_optimizer_weights(f, optimizer, rng, "fixed")

    doc = expected_doc(
        fname, "Keras 1.2.1 model.save of a Sequential (config a bare list), dim_ordering th, "
        "TensorFlow-named weights (':0'), no backend attribute",
        layers, "model_weights/",
        inputs=[{"name": None, "shape": [None, 1, 28, 28]}],
        outputs=[{"name": "dense_1", "shape": [None, 10]}],
        notes=["Sequential input layer is implicit: its name is not in the file.",
               "flipped is false: weight names end in ':0' (TensorFlow variables; Theano names "
               "have no ':0'), and Keras 1's TensorFlow backend transposes th kernels to HWIO "
               "without flipping them. A th kernel is flipped only if Theano trained it.",
               "optimizer_weights and training_config are present and are not layers."])
    save_fixture(doc, write)


def keras1_2_functional_tf():
    fname = "keras1_2_functional_tf.h5"
    th = "theano"
    layers = [
        layer("input_1", "InputLayer", [[None, 8, 8, 3]], 0, "Input(shape=(8,8,3))"),
        layer("input_2", "InputLayer", [[None, 8, 8, 2]], 0, "Input(shape=(8,8,2))"),
        layer("merge_1", "Merge", [[None, 8, 8, 5]], 0,
              "concat on axis -1: 3+2=5"),
        layer("convolution2d_1", "Convolution2D", [[None, 10, 10, 4]], 184,
              "full: 8+3-1=10; params 3*3*5*4+4=184",
              conv_weights(*k1_names("convolution2d_1", th), [3, 3, 5, 4], 4, HWIO, True)),
        layer("atrousconvolution2d_1", "AtrousConvolution2D", [[None, 6, 6, 4]], 148,
              "valid, atrous_rate 2: effective k=3+(3-1)*(2-1)=5, (10-5)//1+1=6; "
              "params 3*3*4*4+4=148",
              conv_weights(*k1_names("atrousconvolution2d_1", th), [3, 3, 4, 4], 4,
                           HWIO, True)),
        layer("convolution2d_2", "Convolution2D", [[None, 6, 6, 4]], 184,
              "valid: (8-3)//1+1=6; params 3*3*5*4+4=184",
              conv_weights(*k1_names("convolution2d_2", th), [3, 3, 5, 4], 4, HWIO, True)),
        layer("merge_2", "Merge", [[None, 6, 6, 4]], 0, "sum of two (6,6,4): same shape"),
        layer("batchnormalization_1", "BatchNormalization", [[None, 6, 6, 4]], 16,
              "identity shape; params 4*4=16 (gamma, beta, running_mean, running_std)",
              [w("batchnormalization_1_gamma", "gamma", [4], CHANNELS),
               w("batchnormalization_1_beta", "beta", [4], CHANNELS),
               w("batchnormalization_1_running_mean", "moving_mean", [4], CHANNELS),
               w("batchnormalization_1_running_std", "moving_variance", [4], CHANNELS,
                 note="Keras 1 calls it running_std but stores the batch variance")]),
        layer("flatten_1", "Flatten", [[None, 144]], 0, "6*6*4=144"),
        layer("dense_1", "Dense", [[None, 3]], 435, "output_dim 3; params 144*3+3=435",
              dense_weights(*k1_names("dense_1", th), 144, 3)),
    ]
    config = {"name": "model_1", "layers": [
        node_entry("InputLayer", k1_input("input_1", [None, 8, 8, 3]), []),
        node_entry("InputLayer", k1_input("input_2", [None, 8, 8, 2]), []),
        node_entry("Merge", k1_merge("merge_1", "concat", -1),
                   [[["input_1", 0, 0], ["input_2", 0, 0]]]),
        node_entry("Convolution2D",
                   k1_conv("convolution2d_1", 4, 3, 3, "full", [1, 1], "tf", activation="relu"),
                   called_on("merge_1")),
        node_entry("AtrousConvolution2D",
                   k1_conv("atrousconvolution2d_1", 4, 3, 3, "valid", [1, 1], "tf",
                           atrous_rate=[2, 2]),
                   called_on("convolution2d_1")),
        node_entry("Convolution2D",
                   k1_conv("convolution2d_2", 4, 3, 3, "valid", [1, 1], "tf"),
                   called_on("merge_1")),
        node_entry("Merge", k1_merge("merge_2", "sum"),
                   [[["atrousconvolution2d_1", 0, 0], ["convolution2d_2", 0, 0]]]),
        node_entry("BatchNormalization", k1_batchnorm("batchnormalization_1", -1),
                   called_on("merge_2")),
        node_entry("Flatten", simple("flatten_1"), called_on("batchnormalization_1")),
        node_entry("Dense", k1_dense("dense_1", 3, activation="softmax"), called_on("flatten_1")),
    ], "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]],
        "output_layers": [["dense_1", 0, 0]]}
    layer_names = [spec["name"] for spec in layers]

    def write(f):
        rng = np.random.RandomState(102)
        f.attrs["keras_version"] = np.bytes_(b"1.2.1")
        set_json(f, "model_config", {"class_name": "Model", "config": config}, "fixed")
        write_weight_groups(f.create_group("model_weights"), layer_names, layers, rng, "fixed")

    doc = expected_doc(
        fname, "Keras 1.2.1 functional Model on the Theano backend, dim_ordering tf: two inputs, "
        "Merge concat and sum, full and atrous convolutions, Keras 1 BatchNormalization",
        layers, "model_weights/",
        inputs=[{"name": "input_1", "shape": [None, 8, 8, 3]},
                {"name": "input_2", "shape": [None, 8, 8, 2]}],
        outputs=[{"name": "dense_1", "shape": [None, 3]}],
        notes=["border_mode 'full' exists only on Keras 1's Theano backend, so this model was "
               "trained on Theano: weight names have no ':0' and the conv kernels are flipped "
               "even though their layout is (kh, kw, in, out) for dim_ordering tf.",
               "Input layers have groups with an empty weight_names (float64, shape (0,)); "
               "Merge layers too."])
    save_fixture(doc, write)


def keras1_0_weights_only():
    fname = "keras1_0_weights_only.h5"
    no_shape = "no architecture in a weights-only file"
    was = "the file records no class; the imitated model's layer was a %s"
    layers = [
        layer("convolution2d_1", None, None, 20, no_shape + "; params 2*1*3*3+2=20",
              conv_weights(*k1_names("convolution2d_1", "theano"), [2, 1, 3, 3], 2, TH, True),
              note=was % "Convolution2D"),
        layer("activation_1", None, None, 0, no_shape, note=was % "Activation"),
        layer("maxpooling2d_1", None, None, 0, no_shape, note=was % "MaxPooling2D"),
        layer("flatten_1", None, None, 0, no_shape, note=was % "Flatten"),
        layer("dense_1", None, None, 99, no_shape + "; params 32*3+3=99",
              dense_weights(*k1_names("dense_1", "theano"), 32, 3), note=was % "Dense"),
    ]
    layer_names = [spec["name"] for spec in layers]

    def write(f):
        write_weight_groups(f, layer_names, layers, np.random.RandomState(103), "fixed")

    doc = expected_doc(
        fname, "Keras 1.0/1.1 save_weights of a Theano-trained th model: root layer_names, "
        "weight names without ':0', no keras_version/backend/model_config",
        layers, "", inputs=None, outputs=None,
        notes=["class_name and output_shapes are null: the file holds weights and names only.",
               "Names without ':0' are Theano shared-variable names: the conv kernel is "
               "(out, in, kh, kw) and flipped.",
               "The imitated model was 1x10x10 -> conv 3x3 valid (8x8) -> pool 2 (4x4) -> "
               "flatten 2*4*4=32 -> dense 3; none of that is in the file."])
    save_fixture(doc, write)


def keras2_0_5_inner_suffix():
    fname = "keras2_0_5_inner_suffix.h5"
    bn = "batch_normalization_1/batch_normalization_1_1/"
    layers = [
        layer("conv2d_1", "Conv2D", [[None, 14, 14, 4]], 112,
              "valid: (16-3)//1+1=14; params 3*3*3*4+4=112",
              conv_weights("conv2d_1/conv2d_1_1/kernel:0",
                           "conv2d_1/conv2d_1_1/bias:0", [3, 3, 3, 4], 4, HWIO, False)),
        layer("batch_normalization_1", "BatchNormalization", [[None, 14, 14, 4]], 16,
              "identity shape; params 4*4=16",
              [w(bn + "gamma:0", "gamma", [4], CHANNELS),
               w(bn + "beta:0", "beta", [4], CHANNELS),
               w(bn + "moving_mean:0", "moving_mean", [4], CHANNELS),
               w(bn + "moving_variance:0", "moving_variance", [4], CHANNELS)]),
        layer("activation_1", "Activation", [[None, 14, 14, 4]], 0, "identity shape"),
        layer("global_average_pooling2d_1", "GlobalAveragePooling2D", [[None, 4]], 0,
              "mean over 14x14, channels 4 remain"),
        layer("dense_1", "Dense", [[None, 5]], 25, "units 5; params 4*5+5=25",
              dense_weights("dense_1/dense_1_1/kernel:0", "dense_1/dense_1_1/bias:0", 4, 5)),
    ]
    config = [
        seq_entry("Conv2D", k2_conv("conv2d_1", 4, [3, 3], [1, 1], "valid", "channels_last",
                                    batch_input_shape=[None, 16, 16, 3])),
        seq_entry("BatchNormalization", k2_batchnorm("batch_normalization_1", -1)),
        seq_entry("Activation", k2_simple("activation_1", {"activation": "relu"})),
        seq_entry("GlobalAveragePooling2D",
                  k2_simple("global_average_pooling2d_1", {"data_format": "channels_last"})),
        seq_entry("Dense", k2_dense("dense_1", 5, activation="softmax")),
    ]
    layer_names = [spec["name"] for spec in layers]

    def write(f):
        write_keras2_full_model(f, "2.0.5", "tensorflow",
                                {"class_name": "Sequential", "config": config},
                                layer_names, layers, np.random.RandomState(104),
                                training_config=K2_ADAM_TRAINING)

    doc = expected_doc(
        fname, "Keras 2.0.5 model.save (tensorflow) of a Sequential (bare-list config) with "
        "inner-suffix weight names conv2d_1/conv2d_1_1/kernel:0",
        layers, "model_weights/",
        inputs=[{"name": None, "shape": [None, 16, 16, 3]}],
        outputs=[{"name": "dense_1", "shape": [None, 5]}],
        notes=["Sequential input layer is implicit: its name is not in the file.",
               "Each weight sits two groups below its layer group "
               "(model_weights/conv2d_1/conv2d_1/conv2d_1_1/kernel:0)."])
    save_fixture(doc, write)


def keras2_theano():
    fname = "keras2_theano.h5"
    cf = "channels_first"
    layers = [
        layer("conv2d_1", "Conv2D", [[None, 4, 32, 32]], 112,
              "same: ceil(32/1)=32; params 3*3*3*4+4=112",
              conv_weights("conv2d_1/conv2d_1/kernel", "conv2d_1/conv2d_1/bias",
                           [3, 3, 3, 4], 4, HWIO, True)),
        layer("max_pooling2d_1", "MaxPooling2D", [[None, 4, 16, 16]], 0,
              "valid pool 2, stride 2: (32-2)//2+1=16"),
        layer("conv2d_2", "Conv2D", [[None, 2, 6, 6]], 202,
              "valid, stride 2: (16-5)//2+1=6; params 5*5*4*2+2=202",
              conv_weights("conv2d_2/conv2d_2/kernel", "conv2d_2/conv2d_2/bias",
                           [5, 5, 4, 2], 2, HWIO, True)),
        layer("conv2d_3", "Conv2D", [[None, 3, 3, 3]], 57,
              "same, stride 2: ceil(6/2)=3; params 3*3*2*3+3=57",
              conv_weights("conv2d_3/conv2d_3/kernel", "conv2d_3/conv2d_3/bias",
                           [3, 3, 2, 3], 3, HWIO, True)),
        layer("flatten_1", "Flatten", [[None, 27]], 0, "3*3*3=27"),
        layer("dense_1", "Dense", [[None, 2]], 56, "units 2; params 27*2+2=56",
              dense_weights("dense_1/dense_1/kernel", "dense_1/dense_1/bias", 27, 2)),
    ]
    config = [
        seq_entry("Conv2D", k2_conv("conv2d_1", 4, [3, 3], [1, 1], "same", cf,
                                    activation="relu", batch_input_shape=[None, 3, 32, 32])),
        seq_entry("MaxPooling2D", k2_maxpool("max_pooling2d_1", [2, 2], [2, 2], "valid", cf)),
        seq_entry("Conv2D", k2_conv("conv2d_2", 2, [5, 5], [2, 2], "valid", cf,
                                    activation="relu")),
        seq_entry("Conv2D", k2_conv("conv2d_3", 3, [3, 3], [2, 2], "same", cf)),
        seq_entry("Flatten", k2_simple("flatten_1")),
        seq_entry("Dense", k2_dense("dense_1", 2, activation="softmax")),
    ]
    layer_names = [spec["name"] for spec in layers]

    def write(f):
        write_keras2_full_model(f, "2.1.2", "theano",
                                {"class_name": "Sequential", "config": config},
                                layer_names, layers, np.random.RandomState(105),
                                training_config=K2_ADAM_TRAINING)

    doc = expected_doc(
        fname, "Keras 2.1.2 model.save with backend theano: channels_first convs, HWIO kernels "
        "trained for a true convolution, weight names without ':0'",
        layers, "model_weights/",
        inputs=[{"name": None, "shape": [None, 3, 32, 32]}],
        outputs=[{"name": "dense_1", "shape": [None, 2]}],
        notes=["Sequential input layer is implicit: its name is not in the file.",
               "Kernels are (kh, kw, in, out) although data_format is channels_first; they "
               "are flipped because backend is theano."])
    save_fixture(doc, write)


def keras2_chunked_names():
    fname = "keras2_chunked_names.h5"
    specs = [layer("input_1", "InputLayer", [[None, 4]], 0, "Input(shape=(4,))")]
    config_layers = [node_entry("InputLayer", {"batch_input_shape": [None, 4], "dtype": "float32",
                                               "sparse": False, "name": "input_1"}, [])]
    # dense_1 .. dense_39: 4 -> 4; dense_2 is shared (called after dense_1 and
    # after dense_3); dense_40: 4 -> 2.
    inbound = {1: [[["input_1", 0, 0, {}]]],
               2: [[["dense_1", 0, 0, {}]], [["dense_3", 0, 0, {}]]],
               3: [[["dense_2", 0, 0, {}]]],
               4: [[["dense_2", 1, 0, {}]]]}
    for i in range(1, 41):
        lname = "dense_%d" % i
        units = 2 if i == 40 else 4
        calls = inbound.get(i, [[["dense_%d" % (i - 1), 0, 0, {}]]])
        config_layers.append(node_entry("Dense", k2_dense(lname, units), calls))
        if i == 2:
            shapes = [[None, 4], [None, 4]]
            how = "shared: called twice, 4->4 each call; params 4*4+4=20"
        elif i == 40:
            shapes, how = [[None, 2]], "units 2; params 4*2+2=10"
        else:
            shapes, how = [[None, 4]], "units 4; params 4*4+4=20"
        specs.append(layer(lname, "Dense", shapes, 10 if i == 40 else 20, how,
                           dense_weights(lname + "/kernel:0", lname + "/bias:0", 4, units)))
    config = {"name": "model_1", "layers": config_layers,
              "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_40", 0, 0]]}
    layer_names = [spec["name"] for spec in specs]

    def write(f):
        write_keras2_full_model(f, "2.2.4", "tensorflow",
                                {"class_name": "Model", "config": config},
                                layer_names, specs, np.random.RandomState(106),
                                layer_chunks=3, weight_chunks={"dense_7": 2})

    doc = expected_doc(
        fname, "Keras 2.2.4 model.save (tensorflow) of a functional model with 40 Dense layers; "
        "layer_names split into layer_names0..2 and dense_7's weight_names into "
        "weight_names0..1 (split forced)",
        specs, "model_weights/",
        inputs=[{"name": "input_1", "shape": [None, 4]}],
        outputs=[{"name": "dense_40", "shape": [None, 2]}],
        notes=["The split is forced: Keras splits only past 64512 bytes; the plain "
               "layer_names attribute is absent, as when Keras splits.",
               "layer_names0 holds input_1..dense_13, layer_names1 dense_14..dense_27, "
               "layer_names2 dense_28..dense_40.",
               "dense_2 is shared: two call nodes, so two output shapes; dense_4 reads "
               "dense_2's second node (node_index 1)."])
    save_fixture(doc, write)


def keras1_lambda():
    fname = "keras1_lambda.h5"
    unknown = ("unknown: lambda_1 has no output_shape, and its bytecode must not be run "
               "to find out")
    layers = [
        layer("input_1", "InputLayer", [[None, 8]], 0, "Input(shape=(8,))"),
        layer("dense_1", "Dense", [[None, 6]], 54, "output_dim 6; params 8*6+6=54",
              dense_weights(*k1_names("dense_1", "tensorflow"), 8, 6)),
        layer("lambda_1", "Lambda", [None], 0, unknown,
              note="function is marshalled bytecode that would create %s" % PWNED_PATH),
        layer("activation_1", "Activation", [None], 0,
              "unknown: input comes from lambda_1"),
        layer("lambda_2", "Lambda", [[None, 6]], 0,
              "output_shape [6] stated in the config: (batch,)+(6,)"),
        layer("dense_2", "Dense", [[None, 3]], 21, "output_dim 3; params 6*3+3=21",
              dense_weights(*k1_names("dense_2", "tensorflow"), 6, 3)),
    ]
    config = {"name": "model_1", "layers": [
        node_entry("InputLayer", k1_input("input_1", [None, 8]), []),
        node_entry("Dense", k1_dense("dense_1", 6, activation="relu"), called_on("input_1")),
        node_entry("Lambda", k1_lambda("lambda_1", PAYLOAD_SRC), called_on("dense_1")),
        node_entry("Activation", simple("activation_1", {"activation": "tanh"}),
                   called_on("lambda_1")),
        node_entry("Lambda", k1_lambda("lambda_2", HARMLESS_SRC, output_shape=[6]),
                   called_on("activation_1")),
        node_entry("Dense", k1_dense("dense_2", 3, activation="softmax"), called_on("lambda_2")),
    ], "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_2", 0, 0]]}
    layer_names = [spec["name"] for spec in layers]

    def write(f):
        rng = np.random.RandomState(107)
        f.attrs["keras_version"] = np.bytes_(b"1.2.1")
        set_json(f, "model_config", {"class_name": "Model", "config": config}, "fixed")
        write_weight_groups(f.create_group("model_weights"), layer_names, layers, rng, "fixed")

    doc = expected_doc(
        fname, "Keras 1.2.1 functional Model with Lambda layers whose config holds marshalled "
        "Python bytecode (func_dump: [code, defaults, closure], raw_unicode_escape)",
        layers, "model_weights/",
        inputs=[{"name": "input_1", "shape": [None, 8]}],
        outputs=[{"name": "dense_2", "shape": [None, 3]}],
        notes=["SAFETY: lambda_1's function, if unmarshalled and called, creates %s. "
               "A test should assert that file does not exist after reading." % PWNED_PATH,
               "lambda_1 has no output_shape: its output and activation_1's are unknown "
               "(null). lambda_2 states output_shape [6], so its output is (None, 6) again, "
               "and dense_2's kernel (6, 3) agrees.",
               "lambda_2's function is harmless (x * 2) but is bytecode all the same."])
    save_fixture(doc, write)


def keras2_vlen_strings():
    fname = "keras2_vlen_strings.h5"
    dense = "dense_é"
    layers = [
        layer("conv2d_1", "Conv2D", [[None, 4, 4, 2]], 20,
              "valid: (6-3)//1+1=4; params 3*3*1*2+2=20",
              conv_weights("conv2d_1/kernel:0", "conv2d_1/bias:0",
                           [3, 3, 1, 2], 2, HWIO, False)),
        layer("flatten_1", "Flatten", [[None, 32]], 0, "4*4*2=32"),
        layer(dense, "Dense", [[None, 3]], 99, "units 3; params 32*3+3=99",
              dense_weights(dense + "/kernel:0", dense + "/bias:0", 32, 3)),
    ]
    config = {"name": "sequential_1", "layers": [
        seq_entry("Conv2D", k2_conv("conv2d_1", 2, [3, 3], [1, 1], "valid", "channels_last",
                                    activation="relu", batch_input_shape=[None, 6, 6, 1])),
        seq_entry("Flatten", k2_simple("flatten_1", {"data_format": "channels_last"})),
        seq_entry("Dense", k2_dense(dense, 3, activation="softmax")),
    ]}
    layer_names = [spec["name"] for spec in layers]

    def write(f):
        write_keras2_full_model(f, "2.2.4", "tensorflow",
                                {"class_name": "Sequential", "config": config},
                                layer_names, layers, np.random.RandomState(108), strings="vlen")

    doc = expected_doc(
        fname, "Keras 2.2.4 (tensorflow) Sequential with the {name, layers} config, all strings "
        "variable-length UTF-8 str, one non-ASCII layer name",
        layers, "model_weights/",
        inputs=[{"name": None, "shape": [None, 6, 6, 1]}],
        outputs=[{"name": dense, "shape": [None, 3]}],
        notes=["Sequential input layer is implicit: its name is not in the file.",
               "model_config is JSON written with json.dumps defaults, so inside it the name "
               "appears escaped as dense_\\u00e9; layer_names, weight_names and the group "
               "and dataset names hold the UTF-8 text itself.",
               "The empty weight_names of flatten_1 is float64 (0,), as Keras wrote an empty "
               "list whatever the string type.",
               "No training_config (the model was not compiled)."])
    save_fixture(doc, write)


def keras1_seq_merge_branches():
    fname = "keras1_seq_merge_branches.h5"
    layers = [
        layer("dense_1", "Dense", [[None, 4]], 28, "branch 1, output_dim 4; params 6*4+4=28",
              dense_weights(*k1_names("dense_1", "tensorflow"), 6, 4)),
        layer("dense_2", "Dense", [[None, 3]], 18, "branch 2, output_dim 3; params 5*3+3=18",
              dense_weights(*k1_names("dense_2", "tensorflow"), 5, 3)),
        layer("merge_1", "Merge", [[None, 7]], 0, "concat on axis -1: 4+3=7",
              note="not in layer_names and has no weight group (Keras 1 flattened_layers)"),
        layer("dense_3", "Dense", [[None, 2]], 16, "output_dim 2; params 7*2+2=16",
              dense_weights(*k1_names("dense_3", "tensorflow"), 7, 2)),
    ]
    merge_cfg = k1_merge("merge_1", "concat", -1)
    merge_cfg["layers"] = [
        seq_entry("Sequential", [seq_entry("Dense", k1_dense("dense_1", 4, "relu", input_dim=6))]),
        seq_entry("Sequential", [seq_entry("Dense", k1_dense("dense_2", 3, input_dim=5))]),
    ]
    config = [seq_entry("Merge", merge_cfg),
              seq_entry("Dense", k1_dense("dense_3", 2, activation="softmax"))]
    layer_names = ["dense_1", "dense_2", "dense_3"]

    def write(f):
        rng = np.random.RandomState(109)
        f.attrs["keras_version"] = np.bytes_(b"1.2.1")
        set_json(f, "model_config", {"class_name": "Sequential", "config": config}, "fixed")
        write_weight_groups(f.create_group("model_weights"), layer_names, layers, rng, "fixed")
        set_json(f, "training_config", K1_SGD_TRAINING, "fixed")

    doc = expected_doc(
        fname, "Keras 1.2.1 Sequential whose first layer is a Merge (concat) of two Sequential "
        "branches, TensorFlow-named weights",
        layers, "model_weights/",
        inputs=[{"name": None, "shape": [None, 6]}, {"name": None, "shape": [None, 5]}],
        outputs=[{"name": "dense_3", "shape": [None, 2]}],
        notes=["Two inputs, one per branch; their input layers are implicit.",
               "layer_names is dense_1, dense_2, dense_3: the Merge layer has no group."])
    save_fixture(doc, write)


FIXTURES = [keras1_2_seq_th, keras1_2_functional_tf, keras1_0_weights_only,
            keras2_0_5_inner_suffix, keras2_theano, keras2_chunked_names,
            keras1_lambda, keras2_vlen_strings, keras1_seq_merge_branches]


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for make in FIXTURES:
        make()
        print("wrote", make.__name__ + ".h5")


if __name__ == "__main__":
    main()
