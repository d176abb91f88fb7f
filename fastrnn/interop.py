"""Weights in and out of fastrnn, from and to PyTorch and Keras, with neither installed.

- `from_torch` reads the ``state_dict`` of a ``torch.nn.LSTM``, ``GRU`` or ``RNN`` (and, optionally, the
  ``torch.nn.Linear`` head on top of it) given as a module, a dict of numpy arrays or tensors, a ``.npz`` file or a
  ``.safetensors`` file (parsed here, without torch or the safetensors package), and builds a fitted
  `RNNClassifier` or `RNNRegressor`, or returns the checked weights for `fastrnn.functional`.
- `to_torch` gives a fitted estimator's weights back as a dict of numpy arrays named like a ``state_dict``.
- `from_keras` reads the weights of Keras ``LSTM``, ``GRU`` (``reset_after=True``) and ``SimpleRNN`` layers (and
  ``Dense`` heads), reordering the gates to PyTorch's layout, which is fastrnn's.
- `read_safetensors` reads a ``.safetensors`` file into a dict of numpy arrays.

Naming of the exported dict (``to_torch``) and of the head read by ``from_torch`` by default:

- recurrent weights: PyTorch's names, ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ...,
  ``_l{k}`` for stacked layers and ``_reverse`` for the backward direction;
- head: ``head.weight`` ``(n_outputs, in)`` and ``head.bias`` for one ``torch.nn.Linear``; with hidden dense layers
  (``dense_layer_sizes``), ``head.0.weight``, ``head.0.bias``, ``head.2.weight``, ... as the ``state_dict`` of
  ``torch.nn.Sequential(Linear, ReLU, Linear, ...)``.

The head reads the pooled recurrent features: with ``pooling="last"`` (what `from_torch` and `from_keras` build),
the top layer's final state, i.e. ``h_n[-1]`` of the PyTorch module, or ``torch.cat([h_n[-2], h_n[-1]], 1)`` when
bidirectional (Keras: the layer's output with ``return_sequences=False``, ``merge_mode="concat"``).

Outputs: a regressor's head is linear. A classifier's head gives logits: one logit for two classes (probability of
the second class ``sigmoid(z)``, as ``BCEWithLogitsLoss``), or one per class (``softmax``, as
``CrossEntropyLoss``). A two-class head with two logits is folded into one exactly (``z1 - z0``).
"""
import json
import os
import re
import reprlib

import numpy as np

from . import _cells
from ._network import Network
from .functional import _as_numpy, read_layers

__all__ = ["from_torch", "to_torch", "from_keras", "read_safetensors"]

_TASKS = ("classification", "regression")
# Estimator parameters that the weights determine: from_torch / from_keras set them.
_ARCHITECTURE = ("cell", "hidden_layer_sizes", "activation", "bidirectional", "pooling", "dense_layer_sizes",
                 "return_sequences")
_RECURRENT_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l[0-9]+(_reverse)?")

# ---------------------------------------------------------------------------------------------------------------
# safetensors

# safetensors dtype -> (numpy little-endian dtype of the stored bytes, dtype returned)
_SAFETENSORS_DTYPES = {
    "F64": ("<f8", np.float64),
    "F32": ("<f4", np.float32),
    "F16": ("<f2", np.float32),
    "BF16": ("<u2", np.float32),
}


def read_safetensors(path):
    """Read a ``.safetensors`` file into a dict of numpy arrays, without torch or the safetensors package.

    The format: an 8-byte little-endian unsigned header length N, N bytes of JSON mapping every tensor name to
    ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the data that follows the header; an
    optional ``"__metadata__"`` entry holds strings), then the raw little-endian data.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    tensors : dict of str to ndarray
        F64 tensors as float64; F32, F16 and BF16 tensors as float32 (exactly: every F16 and BF16 value is a
        float32 value). Other dtypes raise a ValueError naming the tensor.
    """
    with open(path, "rb") as f:
        data = f.read()
    name = os.fspath(path)
    if len(data) < 8:
        raise ValueError(f"{name} is not a safetensors file: it has fewer than 8 bytes.")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"{name} is not a safetensors file: its header length {n} exceeds the file size.")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, or an integer too long to convert
        raise ValueError(f"{name} is not a safetensors file: its header is not JSON ({exc}).") from None
    except RecursionError:
        raise ValueError(f"{name} is not a safetensors file: its JSON header is nested too deeply (malformed "
                         "safetensors header).") from None
    if not isinstance(header, dict):
        raise ValueError(f"{name} is not a safetensors file: its header is not a JSON object.")
    buffer = memoryview(data)[8 + n:]
    tensors = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype, shape, begin, end = _safetensors_entry(name, key, info, len(buffer))
        stored, out = _SAFETENSORS_DTYPES[dtype]
        try:
            raw = np.frombuffer(buffer[begin:end], dtype=stored).reshape(shape)
        except ValueError as exc:  # numpy's limits: too many dimensions, or an empty tensor with huge ones
            raise ValueError(f"{name}: tensor {key!r} has shape {reprlib.repr(shape)}, which numpy cannot hold "
                             f"({exc}).") from None
        if dtype == "BF16":
            # bfloat16 is the top half of a float32.
            a = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            a = raw.astype(out)  # native byte order, a copy that owns its memory
        tensors[key] = a
    return tensors


def _safetensors_entry(name, key, info, n_bytes):
    """A header entry -> (dtype, shape, begin, end), checked against the n_bytes of data that follow the header."""
    # The header is untrusted JSON: values are shown with reprlib, which bounds the length and nesting of a repr.
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
        raise ValueError(f"{name}: the header entry of tensor {key!r} must have dtype, shape and data_offsets.")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str):
        raise ValueError(f"{name}: tensor {key!r} has dtype {reprlib.repr(dtype)}; expected a string, one of "
                         f"{', '.join(_SAFETENSORS_DTYPES)}.")
    if dtype not in _SAFETENSORS_DTYPES:
        raise ValueError(f"{name}: tensor {key!r} has dtype {dtype}; fastrnn reads "
                         f"{', '.join(_SAFETENSORS_DTYPES)} only.")
    # type(d) is int: JSON's true and false are Python bools, which isinstance(d, int) would let through.
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise ValueError(f"{name}: tensor {key!r} has shape {reprlib.repr(shape)}; expected a list of non-negative "
                         "integers.")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and o >= 0 for o in offsets)):
        raise ValueError(f"{name}: tensor {key!r} has data_offsets {reprlib.repr(offsets)}; expected [begin, end], "
                         "two non-negative integers.")
    begin, end = offsets
    # Python ints, so no int64 overflow can make a huge shape look small; capped past the data size, where the
    # exact count no longer matters, to bound the work on a hostile shape.
    count = 1
    for d in shape:
        count = min(count * d, n_bytes + 1)
    if not begin <= end <= n_bytes or end - begin != count * np.dtype(_SAFETENSORS_DTYPES[dtype][0]).itemsize:
        raise ValueError(f"{name}: tensor {key!r} has data_offsets {reprlib.repr(offsets)}, which do not "
                         f"hold {reprlib.repr(tuple(shape))} {dtype} values inside the file's {n_bytes} data bytes.")
    return dtype, tuple(shape), begin, end


# ---------------------------------------------------------------------------------------------------------------
# reading sources


def _read_source(source):
    """A torch module, a mapping, or a .npz / .safetensors path -> (dict of name -> array-like, module or None)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith(".safetensors"):
            return read_safetensors(path), None
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}, None
        raise ValueError(f"Cannot read weights from {path!r}: expected a .npz or .safetensors file.")
    if hasattr(source, "state_dict") and callable(source.state_dict):
        return {str(k): _numpy(f"weights[{k!r}]", v) for k, v in source.state_dict().items()}, source
    if hasattr(source, "keys") and hasattr(source, "__getitem__"):
        return {str(k): _numpy(f"weights[{k!r}]", source[k]) for k in source.keys()}, None
    raise TypeError("weights must be a torch.nn.LSTM/GRU/RNN module, a dict of arrays named like its state_dict, "
                    f"or the path of a .npz or .safetensors file; got {type(source).__name__}.")


def _numpy(name, value):
    """An array-like or torch tensor (bfloat16 included, read as float32) as a numpy array."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
    return _as_numpy(name, value)


def _cell_of_module(module, cell, nonlinearity):
    """cell and nonlinearity from a torch RNN module's `mode` (read by duck typing: no torch import)."""
    mode = getattr(module, "mode", None)
    if mode is None:
        return cell, nonlinearity
    modes = {"LSTM": ("lstm", "tanh"), "GRU": ("gru", "tanh"), "RNN_TANH": ("rnn", "tanh"),
             "RNN_RELU": ("rnn", "relu")}
    if mode not in modes:
        raise ValueError(f"Unsupported recurrent module mode {mode!r}; expected one of {sorted(modes)}.")
    if getattr(module, "proj_size", 0):
        raise ValueError(f"The LSTM has proj_size={module.proj_size} (weights 'weight_hr_l*'): LSTMs with "
                         "projections are not supported by fastrnn.")
    found_cell, found_nl = modes[mode]
    for name, given, found in (("cell", cell, found_cell), ("nonlinearity", nonlinearity, found_nl)):
        if given is not None and given != found:
            raise ValueError(f"{name}={given!r} contradicts the module, which is a {mode}.")
    return found_cell, found_nl


def _infer_cell(weights):
    if "weight_hh_l0" not in weights:
        raise ValueError("weights has no key 'weight_hh_l0' (a torch.nn.LSTM/GRU/RNN state_dict holds "
                         "weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...).")
    shape = np.shape(_as_numpy("weights['weight_hh_l0']", weights["weight_hh_l0"]))
    gates = {4: "lstm", 3: "gru", 1: "rnn"}
    if len(shape) != 2 or shape[1] < 1 or shape[0] % shape[1] or shape[0] // shape[1] not in gates:
        raise ValueError(f"weights['weight_hh_l0'] has shape {shape}: expected (G * H, H) with G = 4 (LSTM), "
                         "3 (GRU) or 1 (RNN).")
    return gates[shape[0] // shape[1]]


def _weights_dtype(arrays, dtype):
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32, float64 or None, got {dtype}.")
        return dtype
    # float32 (and float16 / bfloat16, read as float32) weights give a float32 model; anything else float64.
    kinds = {np.dtype(getattr(a, "dtype", np.float64)) for a in arrays}
    kinds = {np.dtype(np.float32) if k == np.float16 else k for k in kinds}
    return np.dtype(np.float32) if kinds == {np.dtype(np.float32)} else np.dtype(np.float64)


def _as_float(name, value, dtype):
    a = _as_numpy(name, value)
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}.")
    with np.errstate(over="ignore"):
        a = np.ascontiguousarray(a, dtype=dtype)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return a


# ---------------------------------------------------------------------------------------------------------------
# heads


def _linear_pairs_of_module(head):
    """A torch.nn.Linear, or a torch.nn.Sequential of Linear layers with ReLU between them -> [(weight, bias)]."""
    kind = type(head).__name__
    if kind == "Linear":
        return [(head.weight, head.bias)], [("head.weight", "head.bias")]
    modules = list(head)
    pairs, names = [], []
    for i, m in enumerate(modules):
        name = type(m).__name__
        expected = "Linear" if i % 2 == 0 else "ReLU"
        if name != expected:
            raise ValueError(f"head must be a torch.nn.Linear or a Sequential of Linear layers with ReLU between "
                             f"them; its module {i} is a {name}, where a {expected} is needed.")
        if name == "Linear":
            pairs.append((m.weight, m.bias))
            names.append((f"head[{i}].weight", f"head[{i}].bias"))
    if not pairs or len(modules) % 2 == 0:
        raise ValueError("head must end with a Linear layer.")
    return pairs, names


def _head_from_keys(weights, prefix, used):
    """The (weight, bias) pairs named ``{prefix}.weight`` or ``{prefix}.{i}.weight`` in weights."""
    if f"{prefix}.weight" in weights:
        used.update(k for k in (f"{prefix}.weight", f"{prefix}.bias") if k in weights)
        return [(weights[f"{prefix}.weight"], weights.get(f"{prefix}.bias"))], [(f"{prefix}.weight",
                                                                                  f"{prefix}.bias")]
    pattern = re.compile(re.escape(prefix) + r"\.([0-9]+)\.(weight|bias)")
    indices = sorted({int(m[1]) for k in weights if (m := pattern.fullmatch(k))})
    pairs, names = [], []
    for i in indices:
        w, b = f"{prefix}.{i}.weight", f"{prefix}.{i}.bias"
        if w not in weights:
            raise ValueError(f"weights has {b!r} but no {w!r}.")
        used.update(k for k in (w, b) if k in weights)
        pairs.append((weights[w], weights.get(b)))
        names.append((w, b))
    return pairs, names


def _numpy_pairs(pairs, names):
    return [(_numpy(n, w), None if b is None else _numpy(bn, b)) for (w, b), (n, bn) in zip(pairs, names)]


def _check_head(pairs, names, n_in, dtype):
    """[(weight (out, in), bias (out,) or None)] -> checked [(coef (in, out), intercept (out,))] in dtype."""
    layers = []
    for (w, b), (name, bname) in zip(pairs, names):
        w = _as_float(name, w, dtype)
        if w.ndim != 2 or w.shape[1] != n_in or w.shape[0] < 1:
            raise ValueError(f"{name} must have shape (out_features, {n_in}), got {w.shape} ({n_in} is the width "
                             "of what it reads: the recurrent features, or the previous dense layer).")
        b = np.zeros(w.shape[0], dtype=dtype) if b is None else _as_float(bname, b, dtype)
        if b.shape != (w.shape[0],):
            raise ValueError(f"{bname} must have shape ({w.shape[0]},), got {b.shape}.")
        layers.append((np.ascontiguousarray(w.T), b))
        n_in = w.shape[0]
    return layers


def _classification_head(coef, intercept, classes):
    """The output layer and sorted classes_ of a classifier (classes_ sorted as LabelEncoder sorts them)."""
    n_out = coef.shape[1]
    if classes is None:
        classes = np.arange(2 if n_out == 1 else n_out)
    classes = np.asarray(classes)
    if classes.ndim != 1 or len(np.unique(classes)) != len(classes):
        raise ValueError(f"classes must be a 1-D sequence of distinct labels, got {classes!r}.")
    n_classes = len(classes)
    if n_classes < 2:
        raise ValueError("classes must hold at least 2 labels.")
    if not (n_out == n_classes or (n_classes == 2 and n_out == 1)):
        raise ValueError(f"The head has {n_out} outputs, which does not fit {n_classes} classes (one output per "
                         "class, or one logit for two classes).")
    if n_classes == 2 and n_out == 2:
        # softmax over two logits is the logistic of their difference: one output, as fastrnn's binary models.
        coef = coef[:, 1:] - coef[:, :1]
        intercept = intercept[1:] - intercept[:1]
    order = np.argsort(classes, kind="stable")
    if n_classes == 2:
        if order[0] == 1:  # classes given in descending order: the logit is that of the first (sorted) class
            coef, intercept = -coef, -intercept
    else:
        coef, intercept = coef[:, order], intercept[order]
    return np.ascontiguousarray(coef), np.ascontiguousarray(intercept), classes


# ---------------------------------------------------------------------------------------------------------------
# building estimators


def _build(cell, activation, layers, head, task, classes, dtype, params):
    """Fitted estimator from checked recurrent layers (read_layers' layout) and head [(coef, intercept)]."""
    # Here, not at the top: scikit-learn, which the estimators import, takes most of a second to import, and
    # task=None (weights for fastrnn.functional) needs none of it.
    from ._estimators import RNNClassifier, RNNRegressor

    if task not in _TASKS:
        raise ValueError(f"task must be 'classification' or 'regression' (or None for the weights dict), "
                         f"got {task!r}.")
    if not head:
        raise ValueError("An estimator needs an output layer: pass head= (the Linear / Dense layer on top of the "
                         "recurrent layers), or task=None to get the recurrent weights for fastrnn.functional.")
    clashes = sorted(set(params) & set(_ARCHITECTURE))
    if clashes:
        raise ValueError(f"{clashes} are read from the weights; do not pass them.")
    if task == "regression" and classes is not None:
        raise ValueError("classes is for task='classification' only.")
    coef, intercept = head[-1]
    if task == "classification":
        coef, intercept, classes = _classification_head(coef, intercept, classes)
        head = head[:-1] + [(coef, intercept)]
        out_activation = "logistic" if coef.shape[1] == 1 else "softmax"
        estimator = RNNClassifier(**params)
    else:
        out_activation = "identity"
        estimator = RNNRegressor(**params)
    n_dirs, hidden = len(layers[0]), tuple(dirs[0][1].shape[1] for dirs in layers)
    dense = tuple(c.shape[1] for c, _ in head[:-1])
    estimator.set_params(cell=cell, hidden_layer_sizes=hidden, activation=activation, bidirectional=n_dirs == 2,
                         pooling="last", dense_layer_sizes=dense)
    estimator._validate_params()
    network = Network(cell, layers[0][0][0].shape[1], hidden, coef.shape[1], out_activation, activation=activation,
                      bidirectional=n_dirs == 2, dropout=estimator.dropout, pooling="last", dense_sizes=dense,
                      dtype=dtype)
    for names, dirs in zip(network.layers, layers):
        for d_names, arrays in zip(names, dirs):
            for name, a in zip(d_names, arrays):
                network.views[name][:] = a
    for (c_name, b_name), (c, b) in zip(network.dense, head):
        network.views[c_name][:] = c
        network.views[b_name][:] = b
    return estimator._set_network(network, classes)


def _check_task(task, head_found, what):
    if task is None:
        if head_found:
            raise ValueError(f"{what}: pass task='classification' or 'regression' to build an estimator"
                             + (", or head=False to ignore the head and get the recurrent weights." if
                                what.startswith("weights") else ", or no head to get the recurrent weights."))
        return
    if task not in _TASKS:
        raise ValueError(f"task must be 'classification', 'regression' or None, got {task!r}.")


def from_torch(weights, *, task=None, head=None, classes=None, cell=None, nonlinearity=None, prefix="",
               dtype=None, strict=True, **params):
    """Build a fitted estimator (or the checked weight dict) from PyTorch recurrent weights, without PyTorch.

    Parameters
    ----------
    weights : torch.nn.LSTM / GRU / RNN, dict, str or path-like
        The module, its ``state_dict`` (numpy arrays or tensors; keys ``weight_ih_l0``, ``weight_hh_l0``,
        ``bias_ih_l0``, ``bias_hh_l0``, ... ``_l{k}``, ``_reverse``), or a ``.npz`` or ``.safetensors`` file of
        it (read without torch). A dict or file may hold the head too (see ``head``) and, with ``prefix``, the
        weights of a larger model.
    task : {"classification", "regression"} or None, default=None
        The estimator to build: an `RNNClassifier` or an `RNNRegressor`. None returns the recurrent weights as a
        dict for `fastrnn.functional` (and needs no head).
    head : None, False, str, torch.nn.Linear, torch.nn.Sequential, dict, tuple or list, default=None
        The dense layer(s) on top of the pooled recurrent features (see the module's docstring):

        - None: the ``head.*`` keys of ``weights`` if it has any (as `to_torch` writes them), else no head;
        - False: no head, and ``head.*`` keys are ignored;
        - a str ``p``: the keys ``p.weight``, ``p.bias`` (or ``p.0.weight``, ``p.2.weight``, ... of a Sequential)
          of ``weights``;
        - a ``torch.nn.Linear``, a ``torch.nn.Sequential`` of Linear layers with ReLU between them, a dict with
          ``"weight"`` ``(out, in)`` and ``"bias"``, a ``(weight, bias)`` tuple, or a list of those (ReLU
          between them); ``head.*`` keys of ``weights`` are then ignored.
    classes : array-like, default=None
        Classification: the label of each output of the head, in order (default ``0 .. n_classes - 1``; a one-
        logit head is ``[negative, positive]``). ``classes_`` is sorted, as after a fit.
    cell : {"lstm", "gru", "rnn"} or None, default=None
        None: from the module, or from the shape of ``weight_hh_l0`` (4, 3 or 1 gates).
    nonlinearity : {"tanh", "relu"} or None, default=None
        The activation of a ``torch.nn.RNN`` (read from a module; "tanh" otherwise). LSTM and GRU are tanh.
    prefix : str, default=""
        Prefix of the recurrent keys in ``weights``, e.g. ``"rnn."`` for a model whose LSTM is ``self.rnn``.
    dtype : float32, float64 or None, default=None
        dtype of the model; None: float32 if every weight is float32 (or float16 / bfloat16), else float64.
    strict : bool, default=True
        Every key of ``weights`` must be used (a recurrent weight or the head); False ignores the others.
    **params
        Other estimator parameters (training settings for a later ``warm_start`` or ``partial_fit``, such as
        ``learning_rate_init`` or ``random_state``). The architecture comes from the weights.

    Returns
    -------
    estimator : RNNClassifier or RNNRegressor, fitted (``pooling="last"``), or, when ``task`` is None,
    weights : dict of ndarray named like a ``state_dict`` (biases filled with zeros when absent), in ``dtype``.

    Raises
    ------
    ValueError
        For a missing or unexpected key, a wrong shape (the message names the key), LSTM projections
        (``proj_size``, keys ``weight_hr_l*``), or a head that does not fit ``task`` and ``classes``.

    Examples
    --------
    A GRU of 4 units over 2 features and a linear head of 3 classes, as a ``state_dict`` of numpy arrays (or
    tensors: ``module.state_dict()``):

    >>> import numpy as np
    >>> from fastrnn import interop
    >>> rng = np.random.default_rng(0)
    >>> F, H = 2, 4
    >>> state_dict = {"weight_ih_l0": rng.normal(size=(3 * H, F)), "weight_hh_l0": rng.normal(size=(3 * H, H)),
    ...               "bias_ih_l0": np.zeros(3 * H), "bias_hh_l0": np.zeros(3 * H),
    ...               "head.weight": rng.normal(size=(3, H)), "head.bias": np.zeros(3)}
    >>> clf = interop.from_torch(state_dict, task="classification", classes=["a", "b", "c"])
    >>> clf.cell, clf.hidden_layer_sizes, clf.classes_
    ('gru', (4,), array(['a', 'b', 'c'], dtype='<U1'))
    >>> clf.predict_proba(rng.normal(size=(5, 7, F))).shape
    (5, 3)
    >>> back = interop.to_torch(clf)
    >>> sorted(back) == sorted(state_dict) and all(np.array_equal(back[k], v) for k, v in state_dict.items())
    True
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str (e.g. 'rnn.', or '' for none), got {type(prefix).__name__}.")
    source, module = _read_source(weights)
    if module is not None:
        cell, nonlinearity = _cell_of_module(module, cell, nonlinearity)
    if cell is not None and (not isinstance(cell, str) or cell not in _cells.GATES):
        raise ValueError(f"cell must be one of {sorted(_cells.GATES)} or None, got {cell!r}.")
    nonlinearity = "tanh" if nonlinearity is None else nonlinearity
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}.")

    used = set()
    recurrent = {}
    for key, value in source.items():
        if key.startswith(prefix) and _RECURRENT_KEY.fullmatch(key[len(prefix):]):
            name = key[len(prefix):]
            if name.startswith("weight_hr"):
                raise ValueError(f"weights has the key {key!r}: the weights of an LSTM with proj_size > 0, which "
                                 "fastrnn does not support.")
            recurrent[name] = value
            used.add(key)

    if head is None:
        pairs, names = _head_from_keys(source, "head", used)
    elif head is False:
        pairs, names = [], []
        used.update(k for k in source if k.startswith("head."))
    elif isinstance(head, str):
        pairs, names = _head_from_keys(source, head, used)
        if not pairs:
            raise ValueError(f"weights has no key {head + '.weight'!r} (nor {head + '.0.weight'!r}) for head="
                             f"{head!r}.")
    else:
        pairs, names = _explicit_head(head)
        used.update(k for k in source if k.startswith("head."))  # replaced by the explicit head
    if strict:
        extra = [k for k in source if k not in used]
        if extra:
            raise ValueError(f"Unexpected key {extra[0]!r} in weights (with prefix={prefix!r}): expected "
                             "weight_ih_l<k>, weight_hh_l<k>, bias_ih_l<k>, bias_hh_l<k> (optionally _reverse) and "
                             "the head's keys; pass strict=False to ignore other keys."
                             + (f" Unexpected keys: {extra}." if len(extra) > 1 else "")
                             + _prefix_hint(extra, prefix))
    pairs = _numpy_pairs(pairs, names)
    _check_task(task, bool(pairs), "weights has a head")
    if not recurrent:
        raise ValueError(f"weights has no recurrent key (weight_ih_l0, ...) with prefix={prefix!r}; keys: "
                         f"{list(source)[:8]}.")
    cell = cell or _infer_cell(recurrent)
    # After the inference: a relu LSTM or GRU is fastrnn's, not PyTorch's, whether cell was given or inferred.
    if nonlinearity == "relu" and cell in ("lstm", "gru"):
        raise ValueError(f"nonlinearity='relu' is for torch.nn.RNN only; torch.nn.{cell.upper()} has no "
                         "nonlinearity: it is tanh.")
    dtype = _weights_dtype(list(recurrent.values()) + [a for pair in pairs for a in pair if a is not None], dtype)
    layers = read_layers(cell, recurrent, dtype)
    if task is None:
        return _layers_to_dict(layers)
    n_in = len(layers[-1]) * layers[-1][0][1].shape[1]
    return _build(cell, nonlinearity, layers, _check_head(pairs, names, n_in, dtype), task, classes, dtype,
                  params)


def _prefix_hint(keys, prefix):
    """A suggestion of `prefix` when foreign keys end in recurrent weight names (a larger model's state_dict)."""
    for key in keys:
        m = re.search(r"(?:weight_ih|weight_hh|bias_ih|bias_hh)_l[0-9]+(?:_reverse)?$", key)
        if m and m.start() > 0:
            return f" Are the recurrent weights under prefix={key[:m.start()]!r}?"
    return ""


def _explicit_head(head):
    """head given as objects -> [(weight (out, in), bias)], names for messages."""
    if hasattr(head, "weight") or type(head).__name__ == "Sequential":
        return _linear_pairs_of_module(head)
    items = list(head) if isinstance(head, list) else [head]
    pairs, names = [], []
    for i, item in enumerate(items):
        name = "head" if len(items) == 1 else f"head[{i}]"
        if hasattr(item, "weight"):
            pairs.append((item.weight, item.bias))
        elif isinstance(item, dict):
            unknown = set(item) - {"weight", "bias"}
            if "weight" not in item or unknown:
                raise ValueError(f"{name} as a dict must have the keys 'weight' (out, in) and 'bias' (out,); "
                                 f"got {sorted(item)}.")
            pairs.append((item["weight"], item.get("bias")))
        elif isinstance(item, tuple) and len(item) == 2:
            pairs.append(item)
        else:
            raise TypeError(f"{name} must be a torch.nn.Linear, a dict with 'weight' and 'bias', or a (weight, "
                            f"bias) tuple; got {type(item).__name__}.")
        names.append((f"{name}.weight", f"{name}.bias") if not isinstance(item, tuple)
                     else (f"{name}[0] (weight)", f"{name}[1] (bias)"))
    return pairs, names


def _layers_to_dict(layers):
    out = {}
    for layer, dirs in enumerate(layers):
        for d, arrays in enumerate(dirs):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            for name, a in zip(_cells.WEIGHT_NAMES, arrays):
                out[name + suffix] = a
    return out


def to_torch(estimator, *, prefix="", head="head"):
    """A fitted estimator's weights as a dict of numpy arrays named like a PyTorch ``state_dict``.

    Parameters
    ----------
    estimator : fitted RNNClassifier or RNNRegressor
    prefix : str, default=""
        Prepended to the recurrent keys (e.g. ``"rnn."``).
    head : str or None, default="head"
        Name of the dense head: ``{head}.weight`` ``(out, in)`` and ``{head}.bias`` for one layer, or
        ``{head}.0.weight``, ``{head}.2.weight``, ... (a ``torch.nn.Sequential`` of Linear and ReLU) with hidden
        dense layers. None leaves the head out.

    Returns
    -------
    state_dict : dict of ndarray
        Copies, in the estimator's dtype. The recurrent part loads into ``torch.nn.LSTM/GRU/RNN(F, H,
        num_layers=L, bidirectional=..., batch_first=True)`` (``nonlinearity="relu"`` for an RNN with
        ``activation="relu"``) when every layer has the same size H (PyTorch's modules have one H); otherwise
        each layer ``k`` loads into its own single-layer module after renaming ``_l{k}`` to ``_l0``. A binary
        classifier's head has one output, the logit of ``classes_[1]``.

    Raises
    ------
    ValueError
        For an LSTM or GRU with ``activation="relu"``, which has no PyTorch equivalent.
    """
    from sklearn.utils.validation import check_is_fitted

    from ._estimators import RNNClassifier, RNNRegressor

    if not isinstance(estimator, (RNNClassifier, RNNRegressor)):
        raise TypeError(f"to_torch needs a fitted RNNClassifier or RNNRegressor, got {type(estimator).__name__}.")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str (e.g. 'rnn.', or '' for none), got {type(prefix).__name__}.")
    if head is not None and not isinstance(head, str):
        raise TypeError(f"head must be a str (the head's name, e.g. 'head') or None to leave the head out, got "
                        f"{type(head).__name__}.")
    check_is_fitted(estimator, "_network")
    net = estimator._network
    if net.cell in ("lstm", "gru") and net.activation != "tanh":
        raise ValueError(f"This {net.cell.upper()} has activation={net.activation!r}; torch.nn.{net.cell.upper()} "
                         "is tanh only, so these weights have no PyTorch equivalent (the arrays are in "
                         "rnn_weights_, coefs_ and intercepts_).")
    out = {prefix + k: v.copy() for k, v in estimator.rnn_weights_.items()}
    if head is not None:
        n = len(net.dense)
        for i, (c, b) in enumerate(net.dense):
            name = head if n == 1 else f"{head}.{2 * i}"
            out[f"{name}.weight"] = np.ascontiguousarray(net.views[c].T)
            out[f"{name}.bias"] = net.views[b].copy()
    return out


# ---------------------------------------------------------------------------------------------------------------
# Keras

_KERAS_CELLS = {"lstm": "lstm", "gru": "gru", "rnn": "rnn", "simplernn": "rnn"}
# Keras's gate order within kernel columns -> positions of PyTorch's (fastrnn's) gates.
# LSTM: Keras i, f, c, o == PyTorch i, f, g, o. GRU: Keras z, r, h; PyTorch r, z, n.
_KERAS_TO_TORCH_GATES = {"lstm": [0, 1, 2, 3], "gru": [1, 0, 2], "rnn": [0]}


def _reorder(a, cell, H, axis):
    """Permute the gate blocks of a Keras array along axis into PyTorch's order."""
    blocks = np.split(a, _cells.GATES[cell], axis=axis)
    return np.concatenate([blocks[g] for g in _KERAS_TO_TORCH_GATES[cell]], axis=axis)


def _keras_layer_object(layer):
    """A Keras layer object -> (list of its weight arrays, config dict, is_bidirectional)."""
    config = layer.get_config()
    kind = type(layer).__name__
    if kind == "Bidirectional":
        forward, backward = layer.forward_layer, layer.backward_layer
        fc = forward.get_config()
        if config.get("merge_mode", "concat") != "concat":
            raise ValueError(f"Bidirectional merge_mode={config.get('merge_mode')!r} is not supported; only "
                             "'concat' is.")
        return list(forward.get_weights()) + list(backward.get_weights()), dict(fc, _class=type(forward).__name__), \
            True
    return list(layer.get_weights()), dict(config, _class=kind), False


def from_keras(weights, cell=None, *, reset_after=True, activation="tanh", recurrent_activation="sigmoid",
               bidirectional=False, head=None, task=None, classes=None, dtype=None, **params):
    """Build a fitted estimator (or PyTorch-named weights) from Keras ``LSTM`` / ``GRU`` / ``SimpleRNN`` weights.

    Keras's layout per layer and direction: ``kernel (F, G*H)``, ``recurrent_kernel (H, G*H)`` and ``bias``
    ``(G*H,)`` (a GRU with ``reset_after=True``: ``(2, G*H)``, input and recurrent biases), gates in the columns
    in the order LSTM ``i, f, c, o`` (PyTorch's ``i, f, g, o``), GRU ``z, r, h`` (PyTorch's ``r, z, n``: reordered
    here). ``reset_after=True`` (Keras's default) applies the reset gate after the recurrent product and its bias,
    exactly as PyTorch and fastrnn do. ``reset_after=False`` applies it before the product (``W_hn (r * h)``),
    which fastrnn's kernels do not compute: it raises a ValueError.

    Parameters
    ----------
    weights : list, or Keras layer(s)
        One layer's ``layer.get_weights()`` (``[kernel, recurrent_kernel, bias]``, or without bias when
        ``use_bias=False``), or a list of those for stacked layers (each with ``return_sequences=True`` but the
        last). With ``bidirectional=True``, a layer's list is a ``Bidirectional`` layer's ``get_weights()``: the
        forward layer's arrays then the backward layer's. Keras layer objects (``LSTM``, ``GRU``, ``SimpleRNN``,
        ``Bidirectional``) are read with their configuration (which then sets ``cell``, ``reset_after``,
        ``activation``, ``recurrent_activation`` and ``bidirectional``).
    cell : {"lstm", "gru", "simplernn"} ("rnn" is an alias), case-insensitive
        Required for arrays.
    reset_after : bool, default=True
        The GRU's ``reset_after``; False raises.
    activation : {"tanh", "relu"}, default="tanh"
        The layers' ``activation`` (fastrnn's relu LSTM and GRU follow Keras's semantics).
    recurrent_activation : {"sigmoid"}, default="sigmoid"
        Only Keras's default, the logistic sigmoid, is supported.
    bidirectional : bool, default=False
    head : list, default=None
        The ``Dense`` layer(s) on top: ``[kernel (in, out), bias (out,)]`` (a Dense layer's ``get_weights()``), a
        Dense layer object, or a list of those (hidden ones with ``activation="relu"``). The output Dense's
        activation is the task's: linear for regression, sigmoid (one unit) or softmax for classification.
    task, classes, dtype, **params
        As in `from_torch`.

    Returns
    -------
    estimator : RNNClassifier or RNNRegressor, fitted, or, when ``task`` is None,
    weights : dict of ndarray named like a PyTorch ``state_dict`` (for `fastrnn.functional` or `from_torch`).

    Examples
    --------
    An ``LSTM(4)`` over 2 features and a ``Dense(1)`` on top, from their ``get_weights()`` lists:

    >>> import numpy as np
    >>> from fastrnn import interop
    >>> rng = np.random.default_rng(0)
    >>> F, H = 2, 4
    >>> lstm_weights = [rng.normal(size=(F, 4 * H)), rng.normal(size=(H, 4 * H)), np.zeros(4 * H)]
    >>> dense_weights = [rng.normal(size=(H, 1)), np.zeros(1)]
    >>> reg = interop.from_keras(lstm_weights, cell="lstm", head=dense_weights, task="regression")
    >>> reg.predict(rng.normal(size=(5, 7, F))).shape
    (5,)
    >>> sorted(interop.from_keras(lstm_weights, cell="lstm"))       # PyTorch's names and gate order
    ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0']
    """
    layers_in = weights
    objects = hasattr(weights, "get_weights") or (
        isinstance(weights, (list, tuple)) and weights and all(hasattr(w, "get_weights") for w in weights))
    if objects:
        items = [weights] if hasattr(weights, "get_weights") else list(weights)
        layers_in, configs = [], []
        for item in items:
            arrays, config, bi = _keras_layer_object(item)
            layers_in.append(arrays)
            configs.append((config, bi))
        config, bidirectional = configs[0]
        cell = config["_class"]
        reset_after = config.get("reset_after", True)
        activation = config.get("activation", "tanh")
        recurrent_activation = config.get("recurrent_activation", "sigmoid")
        if config.get("go_backwards"):
            raise ValueError("A Keras layer with go_backwards=True is not supported.")
        for c, bi in configs[1:]:
            for key in ("_class", "activation", "recurrent_activation", "reset_after"):
                if c.get(key) != config.get(key):
                    raise ValueError(f"Stacked Keras layers must share {key}: {config.get(key)!r} and "
                                     f"{c.get(key)!r}.")
            if bi != bidirectional:
                raise ValueError("Stacked Keras layers must all be Bidirectional, or none.")
    if not isinstance(cell, str) or cell.lower() not in _KERAS_CELLS:
        raise ValueError(f"cell must be 'lstm', 'gru' or 'simplernn', got {cell!r}.")
    cell = _KERAS_CELLS[cell.lower()]
    if activation not in ("tanh", "relu"):
        raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}.")
    if cell != "rnn" and recurrent_activation != "sigmoid":
        raise ValueError(f"recurrent_activation={recurrent_activation!r} is not supported; fastrnn's gates use the "
                         "logistic sigmoid (Keras's default 'sigmoid').")
    if cell == "gru" and not reset_after:
        raise ValueError(
            "Keras GRU with reset_after=False is not supported: it computes n = tanh(W_in x + b_in + W_hn (r * h)), "
            "applying the reset gate r to h BEFORE the recurrent product, whereas fastrnn (like PyTorch and Keras's "
            "default reset_after=True) computes n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). The two are "
            "different functions; no rearrangement of the weights turns one into the other. Retrain with "
            "reset_after=True."
        )
    if not isinstance(layers_in, (list, tuple)) or not layers_in:
        raise ValueError("weights must be a non-empty list: one layer's [kernel, recurrent_kernel, bias], or a list "
                         "of those.")
    first = layers_in[0]
    one_layer = not isinstance(first, (list, tuple)) and np.ndim(_as_numpy("weights[0]", first)) == 2
    layers_in = [layers_in] if one_layer else list(layers_in)

    torch_weights = {}
    for layer, arrays in enumerate(layers_in):
        where = f"weights[{layer}]" if not one_layer else "weights"
        if not isinstance(arrays, (list, tuple)):
            raise ValueError(f"{where} must be a list [kernel, recurrent_kernel, bias] (a layer's get_weights()).")
        n_dirs = 2 if bidirectional else 1
        if len(arrays) % n_dirs or len(arrays) // n_dirs not in (2, 3):
            raise ValueError(
                f"{where} has {len(arrays)} arrays; expected [kernel, recurrent_kernel, bias] (or no bias)"
                + (" for each direction (Bidirectional: forward then backward)." if bidirectional else ".")
            )
        per = len(arrays) // n_dirs
        for d in range(n_dirs):
            part = arrays[d * per:(d + 1) * per]
            label = f"{where}" + (f" ({'forward' if d == 0 else 'backward'})" if bidirectional else "")
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            torch_weights.update(
                {k + suffix: v for k, v in _keras_direction(cell, part, label).items()})
    head_pairs, head_names = _keras_head(head)
    head_pairs = _numpy_pairs(head_pairs, head_names)
    _check_task(task, bool(head_pairs), "a head was given")
    dtype = _weights_dtype(list(torch_weights.values()) + [a for p in head_pairs for a in p if a is not None],
                           dtype)
    layers = read_layers(cell, torch_weights, dtype)
    if task is None:
        return _layers_to_dict(layers)
    n_in = len(layers[-1]) * layers[-1][0][1].shape[1]
    return _build(cell, activation, layers, _check_head(head_pairs, head_names, n_in, dtype), task, classes,
                  dtype, params)


def _keras_direction(cell, arrays, label):
    """One Keras layer direction [kernel, recurrent_kernel, (bias)] -> PyTorch-named arrays (without _l suffix)."""
    G = _cells.GATES[cell]
    kernel = _as_numpy(f"{label} kernel", arrays[0])
    recurrent = _as_numpy(f"{label} recurrent_kernel", arrays[1])
    if recurrent.ndim != 2 or recurrent.shape[0] < 1 or recurrent.shape[1] != G * recurrent.shape[0]:
        raise ValueError(f"{label} recurrent_kernel must have shape (H, {G} * H) for a {cell}, got "
                         f"{recurrent.shape}.")
    H = recurrent.shape[0]
    if kernel.ndim != 2 or kernel.shape[1] != G * H:
        raise ValueError(f"{label} kernel must have shape (F, {G * H}), got {kernel.shape}.")
    out = {"weight_ih": _reorder(kernel, cell, H, 1).T, "weight_hh": _reorder(recurrent, cell, H, 1).T}
    if len(arrays) == 3:
        bias = _as_numpy(f"{label} bias", arrays[2])
        if cell == "gru":
            if bias.shape == (G * H,):
                raise ValueError(f"{label} bias has shape {bias.shape}, the layout of reset_after=False, which is "
                                 "not supported; a GRU with reset_after=True has a (2, 3H) bias.")
            if bias.shape != (2, G * H):
                raise ValueError(f"{label} bias must have shape (2, {G * H}) (reset_after=True: input and "
                                 f"recurrent biases), got {bias.shape}.")
            out["bias_ih"] = _reorder(bias[0], cell, H, 0)
            out["bias_hh"] = _reorder(bias[1], cell, H, 0)
        else:
            if bias.shape != (G * H,):
                raise ValueError(f"{label} bias must have shape ({G * H},), got {bias.shape}.")
            out["bias_ih"] = _reorder(bias, cell, H, 0)
            out["bias_hh"] = np.zeros_like(out["bias_ih"])
    return out


def _keras_head(head):
    """Keras Dense weights -> [(weight (out, in), bias)], names; the kernel (in, out) is transposed."""
    if head is None:
        return [], []
    if not hasattr(head, "get_weights") and not isinstance(head, (list, tuple)):
        raise TypeError("head must be a Dense layer, a Dense layer's get_weights() [kernel, bias], or a list of "
                        f"those; got {type(head).__name__}.")
    items = [head] if hasattr(head, "get_weights") else list(head)
    if items and not isinstance(items[0], (list, tuple)) and not hasattr(items[0], "get_weights"):
        items = [items]  # one Dense layer's [kernel, bias]
    pairs, names = [], []
    for i, item in enumerate(items):
        name = f"head[{i}]"
        if not hasattr(item, "get_weights") and not isinstance(item, (list, tuple)):
            raise TypeError(f"{name} must be a Dense layer or its get_weights() [kernel, bias]; got "
                            f"{type(item).__name__}.")
        arrays = list(item.get_weights()) if hasattr(item, "get_weights") else list(item)
        if len(arrays) not in (1, 2):
            raise ValueError(f"{name} must be a Dense layer's [kernel (in, out), bias (out,)], got {len(arrays)} "
                             "arrays.")
        kernel = _as_numpy(f"{name} kernel", arrays[0])
        if kernel.ndim != 2:
            raise ValueError(f"{name} kernel must be 2-D (in, out), got shape {kernel.shape}.")
        pairs.append((kernel.T, arrays[1] if len(arrays) == 2 else None))
        names.append((f"{name} kernel (transposed)", f"{name} bias"))
    return pairs, names
