#!/usr/bin/python3
"""Regenerates the ONNX test fixtures under tests/onnx/fixtures/.

The generated files are committed, so building and testing hybrid needs
neither PyTorch nor this script. Regenerating needs Debian's PyTorch and ONNX
for the system Python:

    apt install python3-torch python3-onnx
    /usr/bin/python3 tests/onnx/make_fixtures.py

The output is deterministic (fixed seeds, one thread): running the script
twice produces byte-identical files. Each fixture directory holds model.onnx,
input_<i>.npy and PyTorch's output_<i>.npy; fixtures/MANIFEST.json describes
them (opset, inputs, outputs, tolerance, the op types in each graph).
fixtures/bad/ holds malformed or unsupported models for the importer's
error tests, built with onnx.helper.
"""
import collections
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import warnings

import numpy as np
import onnx
import onnx.checker
import onnx.helper as oh
import onnx.numpy_helper as onh
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")

# Elementwise acceptance test for a runtime's output `a` against PyTorch's `b`:
# |a - b| <= atol + rtol * |b| (numpy.allclose). rtol is the 1e-5 relative
# float32 bound; atol only covers entries that are (near) zero, where a
# relative bound is meaningless.
DEFAULT_TOL = {"rtol": 1e-5, "atol": 1e-6}

DTYPE_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64",
               np.dtype(np.int64): "int64", np.dtype(np.bool_): "bool"}


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

def mlp():
    """The seed MLP: 512 -> 256 relu -> 128 relu -> 2."""
    return nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 2))


def lenet():
    """LeNet as d2l defines it: sigmoid activations, average pooling."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def lenet_relu_maxpool():
    """LeNet with ReLU and max pooling (testing::lenet in tests/support/models.hpp)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class Residual(nn.Module):
    """d2l's Residual block: conv3x3-BN-relu-conv3x3-BN plus a 1x1 shortcut."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = (nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
                      if use_1x1conv else None)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return F.relu(y + x)


FASHION_MNIST = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
EVAL_IMAGES = 1000  # the first test images, whose predictions the C++ test compares


def read_idx(name):
    """An idx file of Debian's Fashion-MNIST as a numpy array."""
    with gzip.open(os.path.join(FASHION_MNIST, name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(split):
    """Images (N, 1, 28, 28) and int64 labels, scaled as hybrid's data layer
    does: v / 255 in double, rounded to float32."""
    images = read_idx(f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(f"{split}-labels-idx1-ubyte.gz")
    x = (images.astype(np.float64) / 255.0).astype(np.float32)[:, None]
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


def trained_lenet():
    """d2l's LeNet (Xavier-initialized weights) trained one epoch on the
    Fashion-MNIST training set, batches of 256 in a seeded order. Adam at
    0.003 rather than d2l's SGD at 0.9, which leaves a sigmoid LeNet at
    chance (10 %) after one epoch; this reaches 73 % on the test set."""
    torch.manual_seed(8)
    model = lenet()
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    x, y = fashion_mnist("train")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    loss = nn.CrossEntropyLoss()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(9))
    model.train()
    for start in range(0, len(x), 256):
        batch = order[start:start + 256]
        optimizer.zero_grad()
        loss(model(x[batch]), y[batch]).backward()
        optimizer.step()
    return model.eval()


def resnet_block():
    return nn.Sequential(Residual(3, 8, use_1x1conv=True, strides=2), nn.AdaptiveAvgPool2d((1, 1)),
                         nn.Flatten(), nn.Linear(8, 10))


def transformer_layer():
    return nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.1, batch_first=True)


class OpsZoo(nn.Module):
    """Small model that emits the ops the importer covers and the models above
    don't: LayerNorm, both GELU forms, Embedding (Gather), Concat, Split, Slice,
    Squeeze/Unsqueeze, Where/Equal/Greater/Less, reductions, Cast, LogSoftmax,
    LeakyRelu, Tanh, elementwise math, Transpose, Reshape, Dropout (inference).

    Inputs: x (batch, 6, 16) float32, ids (batch, 6) int64 in [0, 20).
    Outputs: output (batch, 10), log_probs (batch, 6, 8).
    """

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.norm = nn.LayerNorm(16)
        self.proj = nn.Linear(16, 16)
        self.gelu = nn.GELU()
        self.gelu_tanh = nn.GELU(approximate="tanh")
        self.drop = nn.Dropout(0.5)
        self.w = nn.Parameter(torch.empty(8, 8))
        self.head = nn.Linear(6 * 4, 10)

    def forward(self, x, ids):
        h = x + self.embed(ids)                                  # Gather, Add
        h = self.norm(h)                                         # LayerNormalization / decomposed
        h = self.drop(self.proj(h))                              # MatMul, Add (Dropout vanishes)
        a, b = torch.split(h, [8, 8], dim=-1)                    # Split
        a = self.gelu(a)                                         # Erf pattern
        b = self.gelu_tanh(b)                                    # Tanh pattern (Pow, Tanh)
        m = torch.where(a > 0, a, F.leaky_relu(b, 0.2))           # Greater, Where, LeakyRelu
        pad = (ids == 0).unsqueeze(-1)                           # Equal, Unsqueeze
        m = m.masked_fill(pad, 0.0)                              # Where
        m = m + torch.zeros(x.shape[1:2] + (8,))                 # Shape, Slice, Concat, ConstantOfShape
        m = m.masked_fill((x[..., :8] < -1.5), -0.5)             # Slice, Less, Where
        logits = torch.matmul(m, self.w)                         # MatMul with a 2-D weight
        log_probs = F.log_softmax(logits, dim=-1)                # LogSoftmax
        s = torch.softmax(logits, dim=1)                         # Softmax over a non-last axis
        mean = logits.mean(dim=-1, keepdim=True)                 # ReduceMean
        mx = logits.amax(dim=-1, keepdim=True)                   # ReduceMax
        tot = s.sum(dim=-1, keepdim=True)                        # ReduceSum
        stats = torch.cat([mean, mx, tot, torch.tanh(mean)], dim=-1)  # Concat, Tanh
        stats = stats + torch.sqrt(torch.abs(stats) + 1.0) - torch.exp(-torch.abs(stats))  # Sqrt, Abs, Exp, Neg
        stats = stats * torch.log(1.0 + stats.pow(2)) / 2.0      # Log, Pow, Mul, Div
        stats = stats - torch.sigmoid(stats)                     # Sub, Sigmoid
        stats = stats.double().float()                           # Cast float -> double -> float
        keep = 1.0 - (ids == 0).to(torch.float32).unsqueeze(-1)  # Equal, Cast bool -> float
        stats = stats * keep
        t = stats.transpose(1, 2).unsqueeze(1).squeeze(1)        # Transpose, Unsqueeze, Squeeze
        flat = t.reshape(-1, 4 * 6)                              # Reshape with a constant shape
        return self.head(flat), log_probs                        # Gemm


# --------------------------------------------------------------------------
# Deterministic initialization
# --------------------------------------------------------------------------

@torch.no_grad()
def make_nontrivial(model, seed):
    """Replaces every parameter and BatchNorm statistic that PyTorch initializes
    to a constant (biases of 0, LayerNorm/BatchNorm scales of 1) by seeded
    random values, so a test catches swapped or ignored tensors. Left as is,
    equal constants would also be deduplicated by the exporter into one
    initializer plus Identity nodes."""
    gen = torch.Generator().manual_seed(seed)
    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        if not p.is_floating_point() or p.numel() == 0:
            continue
        flat = p.reshape(-1)
        if not bool((flat == flat[0]).all()):
            continue
        noise = torch.randn(p.shape, generator=gen)
        if name.endswith("running_var"):
            p.copy_(1.0 + 0.25 * noise.abs())
        elif float(flat[0]) == 1.0:
            p.copy_(1.0 + 0.2 * noise)
        else:
            p.copy_(0.1 * noise)


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------

def op_counts(model):
    counts = collections.Counter(n.op_type for n in model.graph.node)
    return dict(sorted(counts.items()))


def value_info_shape(vi):
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        dims.append(d.dim_param if d.HasField("dim_param") else int(d.dim_value))
    return dims


def attributes_used(model):
    """op type -> sorted attribute names present on its nodes."""
    attrs = collections.defaultdict(set)
    for n in model.graph.node:
        attrs[n.op_type]
        for a in n.attribute:
            attrs[n.op_type].add(a.name)
    return {k: sorted(v) for k, v in sorted(attrs.items())}


def save_npy(path, array):
    array = np.ascontiguousarray(array)
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


def export_fixture(manifest, name, model, inputs, opset, description, input_names, output_names,
                   tol=None, dynamic_batch=True, training=torch.onnx.TrainingMode.EVAL, notes=None):
    directory = os.path.join(OUT, name)
    os.makedirs(directory)
    model.eval()

    # The reference output comes from the same code path the exporter traces:
    # grad enabled (see the transformer note in the manifest).
    with torch.enable_grad():
        outputs = model(*inputs)
    if not isinstance(outputs, tuple):
        outputs = (outputs,)
    outputs = [o.detach() for o in outputs]

    dynamic_axes = None
    if dynamic_batch:
        dynamic_axes = {n: {0: "batch"} for n in list(input_names) + list(output_names)}
    buf = io.BytesIO()
    torch.onnx.export(model, tuple(inputs), buf, opset_version=opset, input_names=list(input_names),
                      output_names=list(output_names), dynamic_axes=dynamic_axes, do_constant_folding=True,
                      export_params=True, training=training)
    data = buf.getvalue()
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    model_path = os.path.join(directory, "model.onnx")
    with open(model_path, "wb") as f:
        f.write(data)

    entry = {
        "name": name,
        "description": description,
        "model": f"{name}/model.onnx",
        "opset": next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
        "ir_version": proto.ir_version,
        "producer": f"{proto.producer_name} {proto.producer_version}",
        "dynamic_batch": dynamic_batch,
        "inputs": [],
        "outputs": [],
        "tolerance": dict(tol or DEFAULT_TOL),
        "op_types": op_counts(proto),
        "attributes": attributes_used(proto),
        "initializers": len(proto.graph.initializer),
        "parameters": int(sum(int(np.prod(t.dims)) for t in proto.graph.initializer)),
        "nodes": len(proto.graph.node),
    }
    if notes:
        entry["notes"] = notes
    graph_inputs = [vi for vi in proto.graph.input
                    if vi.name not in {t.name for t in proto.graph.initializer}]
    assert [vi.name for vi in graph_inputs] == list(input_names), [vi.name for vi in graph_inputs]
    for i, (vi, tensor) in enumerate(zip(graph_inputs, inputs)):
        array = tensor.detach().numpy()
        save_npy(os.path.join(directory, f"input_{i}.npy"), array)
        entry["inputs"].append({"name": vi.name, "file": f"{name}/input_{i}.npy",
                                "dtype": DTYPE_NAMES[array.dtype], "shape": list(array.shape),
                                "graph_shape": value_info_shape(vi)})
    assert [vi.name for vi in proto.graph.output] == list(output_names)
    for i, (vi, tensor) in enumerate(zip(proto.graph.output, outputs)):
        array = tensor.numpy()
        save_npy(os.path.join(directory, f"output_{i}.npy"), array)
        entry["outputs"].append({"name": vi.name, "file": f"{name}/output_{i}.npy",
                                 "dtype": DTYPE_NAMES[array.dtype], "shape": list(array.shape),
                                 "graph_shape": value_info_shape(vi)})
    manifest["fixtures"].append(entry)
    print(f"{name:24s} opset {entry['opset']:2d}  {os.path.getsize(model_path):7d} bytes  "
          f"{entry['op_types']}")


def seeded(seed, factory):
    torch.manual_seed(seed)
    model = factory()
    make_nontrivial(model, seed + 1000)
    return model


ZOO_NOTES = (
    "LayerNorm at opset 13 is decomposed: ReduceMean(axes=[-1]) Sub Pow(2) ReduceMean Add(eps) Sqrt "
    "Div Mul(weight) Add(bias); at 17 it is LayerNormalization(axis=-1, epsilon=1e-5). nn.GELU() is "
    "Div(sqrt 2) Erf Add(1) Mul(x) Mul(0.5); GELU(approximate='tanh') is Mul(x,x) Mul(x) "
    "Mul(0.044715) Add(x) Mul(sqrt(2/pi)) Tanh Add(1) Mul(x) Mul(0.5). Split takes its sizes, "
    "ReduceSum, Squeeze and Unsqueeze their axes, Slice its starts/ends/axes/steps as Constant "
    "inputs; ReduceMean/ReduceMax keep an axes attribute. masked_fill is Cast(to=BOOL) + Where "
    "with a scalar Constant. torch.zeros(x.shape[1:2] + (8,)) is Shape(input) Gather(1) Unsqueeze "
    "Concat ConstantOfShape, constant because dimension 1 of the input is static. Casts: "
    "float->double->float (to=11, to=1), bool->float (to=1), bool->bool (to=9). The 3-D Linear "
    "weight is stored pre-transposed as initializer onnx::MatMul_<n>.")


def make_good(manifest):
    # (a) MLP, opset 13.
    model = seeded(1, mlp)
    torch.manual_seed(101)
    export_fixture(manifest, "mlp", model, [torch.randn(4, 512)], 13,
                   "Seed MLP 512-256-128-2 with ReLU (Linear on 2-D input exports as Gemm).",
                   ["input"], ["output"])

    # (b) LeNet (sigmoid, average pooling), opset 17.
    model = seeded(2, lenet)
    torch.manual_seed(102)
    export_fixture(manifest, "lenet", model, [torch.rand(2, 1, 28, 28)], 17,
                   "d2l LeNet: Conv(6,5,pad 2) sigmoid AvgPool, Conv(16,5) sigmoid AvgPool, Flatten, "
                   "Linear 400-120-84-10 with sigmoid.", ["input"], ["output"],
                   notes="AvgPool2d (count_include_pad=True) exports as Pad(mode=constant, pads from a "
                         "Constant, all zero here) followed by AveragePool(pads 0).")

    # (e) LeNet with ReLU and max pooling, opset 17.
    model = seeded(3, lenet_relu_maxpool)
    torch.manual_seed(103)
    export_fixture(manifest, "lenet_relu_maxpool", model, [torch.rand(2, 1, 28, 28)], 17,
                   "LeNet with ReLU and MaxPool (the architecture of testing::lenet).",
                   ["input"], ["output"])

    # (b2) LeNet trained on Fashion-MNIST, opset 17: the fixture's input is
    # the first 8 test images; eval_logits.npy and eval_predictions.npy hold
    # PyTorch's logits and labels for the first EVAL_IMAGES test images, which
    # the C++ test reads from the same Debian files.
    model = trained_lenet()
    test_x, test_y = fashion_mnist("t10k")
    with torch.no_grad():
        logits = model(test_x)
    predictions = logits.argmax(1)
    accuracy = {"test_set": round(float((predictions == test_y).double().mean()), 4),
                f"first_{EVAL_IMAGES}": round(float((predictions[:EVAL_IMAGES] == test_y[:EVAL_IMAGES])
                                                     .double().mean()), 4)}
    export_fixture(manifest, "lenet_trained", model, [test_x[:8]], 17,
                   "d2l LeNet trained one epoch on Fashion-MNIST (Adam 0.003, batch 256, Xavier "
                   "weights); inputs: the first 8 test images.", ["input"], ["output"])
    entry = manifest["fixtures"][-1]
    entry["accuracy"] = accuracy
    entry["eval"] = {"images": f"the first {EVAL_IMAGES} of {FASHION_MNIST}/t10k-images-idx3-ubyte.gz, v / 255",
                     "logits": "lenet_trained/eval_logits.npy",
                     "predictions": "lenet_trained/eval_predictions.npy"}
    save_npy(os.path.join(OUT, "lenet_trained", "eval_logits.npy"), logits[:EVAL_IMAGES].numpy())
    save_npy(os.path.join(OUT, "lenet_trained", "eval_predictions.npy"), predictions[:EVAL_IMAGES].numpy())

    # (c) ResNet block with BatchNorm, opset 15. A few training-mode passes make
    # the running statistics non-trivial; TrainingMode.PRESERVE on the eval()
    # model keeps BatchNormalization nodes (EVAL would fold them into the Convs).
    model = seeded(4, resnet_block)
    torch.manual_seed(104)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, 16, 16) * 1.5 + 0.3)
    model.eval()
    export_fixture(manifest, "resnet_block", model, [torch.randn(2, 3, 16, 16)], 15,
                   "d2l Residual(3->8, 1x1 shortcut, stride 2) with BatchNorm (inference, running "
                   "statistics from 3 training passes), global average pooling, Flatten, Linear 8-10.",
                   ["input"], ["output"], training=torch.onnx.TrainingMode.PRESERVE,
                   notes="Exported with training=PRESERVE on the eval() model: BatchNormalization "
                         "nodes with training_mode=0. The default (EVAL) would fold BN into Conv.")

    # (d) Transformer encoder layer, opset 17.
    model = seeded(5, transformer_layer)
    torch.manual_seed(105)
    x = torch.randn(2, 7, 32)
    tf_notes = ("Standard (non-fast-path) ops: tracing runs with grad enabled and parameters that "
                "require grad, so TransformerEncoderLayer takes its Python path; the reference "
                "output is computed on that same path. With a symbolic batch the attention reshapes "
                "are computed at run time (Shape, Gather, Unsqueeze, Concat, int64 Div/Mul/Cast "
                "feeding Reshape); they do not fold to constants.")
    # Outputs are LayerNorm-scaled (|y| up to ~4) after 32- and 64-wide sums:
    # entries near zero get an absolute bound of 1e-5.
    tf_tol = {"rtol": 1e-5, "atol": 1e-5}
    export_fixture(manifest, "transformer_encoder", model, [x], 17,
                   "torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, "
                   "dropout=0.1, batch_first=True), eval mode, input (batch, 7, 32).",
                   ["input"], ["output"], tol=tf_tol, notes=tf_notes)
    model = seeded(5, transformer_layer)
    export_fixture(manifest, "transformer_encoder_static", model, [x], 17,
                   "The same transformer layer and input exported with a fixed batch of 2: most "
                   "shape arithmetic folds to constants.", ["input"], ["output"], tol=tf_tol,
                   dynamic_batch=False)

    # Ops zoo at opset 13 (LayerNorm decomposed) and 17 (LayerNormalization).
    for opset in (13, 17):
        model = seeded(6, OpsZoo)
        with torch.no_grad():
            nn.init.normal_(model.w, std=0.5)
        torch.manual_seed(106)
        x = torch.randn(3, 6, 16)
        ids = torch.randint(0, 20, (3, 6), dtype=torch.int64)
        ids[:, -1] = 0  # some padding positions, for the Equal/Where masks
        export_fixture(manifest, f"ops_zoo_{opset}", model, [x, ids], opset,
                       "Every-op model: Embedding, LayerNorm, GELU (erf and tanh), Split, Where, "
                       "LeakyRelu, masks, reductions, LogSoftmax, Concat, Cast, Transpose, "
                       "Squeeze/Unsqueeze, Reshape. Inputs: x float32 (batch,6,16), ids int64 "
                       "(batch,6) in [0,20).", ["input", "ids"], ["output", "log_probs"], notes=ZOO_NOTES)


def make_handmade(manifest):
    """Ops and attributes PyTorch's exporter does not emit for the models above:
    Identity (also on an initializer, as the exporter writes for deduplicated
    parameters), Dropout in inference with its mask output, Gemm with alpha,
    beta and no transB, Softmax's default axis, ReduceMean with keepdims=0.
    The reference output is computed with numpy in float64."""
    name = "handmade_ops"
    directory = os.path.join(OUT, name)
    os.makedirs(directory)
    rng = np.random.default_rng(11)
    w = rng.standard_normal((4, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    inits = [float_init("fc.weight", w), float_init("fc.bias", b),
             onh.from_array(np.array(0.5, dtype=np.float32), "drop.ratio")]
    nodes = [
        oh.make_node("Identity", ["input"], ["x_id"], name="identity"),
        oh.make_node("Dropout", ["x_id", "drop.ratio"], ["dropped", "drop_mask"], name="dropout"),
        oh.make_node("Identity", ["fc.weight"], ["fc2.weight"], name="shared_weight"),
        oh.make_node("Gemm", ["dropped", "fc.weight", "fc.bias"], ["h"], name="fc", alpha=0.5, beta=2.0),
        oh.make_node("Gemm", ["h", "fc2.weight"], ["h2"], name="fc2", transB=1),
        oh.make_node("Softmax", ["h2"], ["output"], name="softmax"),
        oh.make_node("ReduceMean", ["h2"], ["row_mean"], name="mean", axes=[1], keepdims=0),
    ]
    graph = oh.make_graph(
        nodes, name, [oh.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", 4])],
        [oh.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", 4]),
         oh.make_tensor_value_info("row_mean", onnx.TensorProto.FLOAT, ["batch"])], inits)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)], producer_name="make_fixtures")
    onnx.checker.check_model(model, full_check=True)
    write_model(os.path.join(directory, "model.onnx"), model)

    xd, wd, bd = x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    h = 0.5 * xd @ wd + 2.0 * bd
    h2 = h @ wd.T
    e = np.exp(h2 - h2.max(axis=1, keepdims=True))
    outputs = [(e / e.sum(axis=1, keepdims=True)).astype(np.float32), h2.mean(axis=1).astype(np.float32)]
    save_npy(os.path.join(directory, "input_0.npy"), x)
    entry = {
        "name": name,
        "description": "Built with onnx.helper: Identity (on the input and on an initializer), "
                       "Dropout (inference, mask output unused), Gemm(alpha=0.5, beta=2, no transB), "
                       "Gemm(transB=1, no C), Softmax with the default axis, ReduceMean(keepdims=0).",
        "model": f"{name}/model.onnx", "opset": 13, "ir_version": model.ir_version,
        "producer": "make_fixtures (onnx.helper); reference from numpy float64",
        "dynamic_batch": True,
        "inputs": [{"name": "input", "file": f"{name}/input_0.npy", "dtype": "float32", "shape": [3, 4],
                    "graph_shape": ["batch", 4]}],
        "outputs": [],
        "tolerance": dict(DEFAULT_TOL),
        "op_types": op_counts(model), "attributes": attributes_used(model),
        "initializers": len(graph.initializer),
        "parameters": int(sum(int(np.prod(t.dims)) for t in graph.initializer)),
        "nodes": len(graph.node),
    }
    for i, (vi, array) in enumerate(zip(graph.output, outputs)):
        save_npy(os.path.join(directory, f"output_{i}.npy"), array)
        entry["outputs"].append({"name": vi.name, "file": f"{name}/output_{i}.npy", "dtype": "float32",
                                 "shape": list(array.shape), "graph_shape": value_info_shape(vi)})
    manifest["fixtures"].append(entry)
    print(f"{name:24s} opset 13  {os.path.getsize(os.path.join(directory, 'model.onnx')):7d} bytes  "
          f"{entry['op_types']}")


# --------------------------------------------------------------------------
# Malformed and unsupported models, for the importer's error tests
# --------------------------------------------------------------------------

def float_init(name, array):
    return onh.from_array(np.asarray(array, dtype=np.float32), name)


def write_model(path, model):
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def expect_checker_failure(model, what):
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception:  # noqa: BLE001 - any checker error proves the defect is there
        return
    raise AssertionError(f"{what}: the ONNX checker accepted the model")


def small_gemm_model(opset=13, w_rows=4):
    """x (batch, 4) -> Gemm(W 4x3, b 3) -> Relu -> y (batch, 3)."""
    rng = np.random.default_rng(7)
    x = oh.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", 4])
    y = oh.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", 3])
    w = float_init("fc.weight", rng.standard_normal((w_rows, 3)))
    b = float_init("fc.bias", rng.standard_normal(3))
    nodes = [oh.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["h"], name="fc"),
             oh.make_node("Relu", ["h"], ["output"], name="relu")]
    graph = oh.make_graph(nodes, "small_gemm", [x], [y], [w, b])
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)], producer_name="make_fixtures")


def make_bad(manifest):
    directory = os.path.join(OUT, "bad")
    os.makedirs(directory)
    entries = manifest["bad"]

    def add(name, defect, expect, **extra):
        entry = {"file": f"bad/{name}", "defect": defect, "expect": expect}
        entry.update(extra)
        entries.append(entry)

    # Unsupported op types: TopK and NonMaxSuppression next to a supported Relu.
    boxes = oh.make_tensor_value_info("boxes", onnx.TensorProto.FLOAT, [1, 5, 4])
    scores = oh.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [1, 1, 5])
    relu_out = oh.make_tensor_value_info("relu_out", onnx.TensorProto.FLOAT, [1, 1, 5])
    top_values = oh.make_tensor_value_info("top_values", onnx.TensorProto.FLOAT, [1, 1, 2])
    selected = oh.make_tensor_value_info("selected", onnx.TensorProto.INT64, [None, 3])
    k = onh.from_array(np.array([2], dtype=np.int64), "k")
    nodes = [
        oh.make_node("Relu", ["scores"], ["relu_out"], name="scores_relu"),
        oh.make_node("TopK", ["relu_out", "k"], ["top_values", "top_indices"], name="top_scores", axis=-1),
        oh.make_node("NonMaxSuppression", ["boxes", "scores"], ["selected"], name="nms"),
    ]
    graph = oh.make_graph(nodes, "unsupported_ops", [boxes, scores], [relu_out, top_values, selected], [k])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)], producer_name="make_fixtures")
    onnx.checker.check_model(model, full_check=True)
    write_model(os.path.join(directory, "unsupported_ops.onnx"), model)
    add("unsupported_ops.onnx", "valid ONNX (checker passes) with two op types the importer does not "
        "cover next to a supported Relu", "FormatError listing every unsupported node: op type, node "
        "name, opset", unsupported_nodes=[{"op_type": "TopK", "name": "top_scores", "opset": 13},
                                          {"op_type": "NonMaxSuppression", "name": "nms", "opset": 13}])

    # A valid model at opset 11, below the covered range 13-17.
    model = small_gemm_model(opset=11)
    onnx.checker.check_model(model, full_check=True)
    write_model(os.path.join(directory, "opset_11.onnx"), model)
    add("opset_11.onnx", "valid Gemm+Relu model at opset 11, below the covered opsets 13-17",
        "FormatError naming the opset (or, if the importer accepts opset 11, a model that runs)")

    # Truncated protobuf: cut in the middle of an initializer's raw bytes so
    # the length-delimited field runs past the end.
    good = small_gemm_model()
    data = good.SerializeToString()
    raw = good.graph.initializer[0].raw_data
    cut = data.index(raw) + len(raw) // 2
    truncated = data[:cut]
    try:
        onnx.load_from_string(truncated)
    except Exception:  # noqa: BLE001 - the parse must fail
        pass
    else:
        raise AssertionError("truncated.onnx still parses")
    with open(os.path.join(directory, "truncated.onnx"), "wb") as f:
        f.write(truncated)
    add("truncated.onnx", f"serialized model cut after {cut} of {len(data)} bytes (inside an "
        "initializer's raw_data)", "FormatError naming the file (protobuf parse error)")

    # Empty file: zero bytes parse as an empty ModelProto (no graph, no opset).
    with open(os.path.join(directory, "empty.onnx"), "wb") as f:
        pass
    add("empty.onnx", "zero bytes: parses as a ModelProto with no graph and no opset_import",
        "FormatError naming the file (no graph / no opset)")

    # Initializer whose raw_data is shorter than its dims say.
    model = small_gemm_model()
    w = model.graph.initializer[0]
    w.raw_data = w.raw_data[:-4]
    write_model(os.path.join(directory, "bad_initializer_size.onnx"), model)
    add("bad_initializer_size.onnx", "initializer fc.weight has dims [4, 3] (48 bytes of float32) "
        "but 44 bytes of raw_data", "FormatError naming the file and the initializer fc.weight")

    # Same defect through the typed field: float_data with one value too many.
    model = small_gemm_model()
    b = model.graph.initializer[1]
    values = list(onh.to_array(b).reshape(-1)) + [0.5]
    b.ClearField("raw_data")
    b.float_data.extend(float(v) for v in values)
    write_model(os.path.join(directory, "bad_initializer_count.onnx"), model)
    add("bad_initializer_count.onnx", "initializer fc.bias has dims [3] but 4 float_data values",
        "FormatError naming the file and the initializer fc.bias")

    # Dangling input: a node reads a tensor nothing produces.
    model = small_gemm_model()
    model.graph.node[1].input[0] = "nowhere"
    expect_checker_failure(model, "dangling_input.onnx")
    write_model(os.path.join(directory, "dangling_input.onnx"), model)
    add("dangling_input.onnx", "node 'relu' reads tensor 'nowhere', which is no graph input, "
        "initializer or node output", "FormatError naming the file, the node and the tensor")

    # Cycle: a = Add(input, c); b = Relu(a); c = Neg(b); output = Identity(b).
    x = oh.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", 4])
    y = oh.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", 4])
    nodes = [oh.make_node("Add", ["input", "c"], ["a"], name="add"),
             oh.make_node("Relu", ["a"], ["b"], name="relu"),
             oh.make_node("Neg", ["b"], ["c"], name="neg"),
             oh.make_node("Identity", ["b"], ["output"], name="out")]
    model = oh.make_model(oh.make_graph(nodes, "cycle", [x], [y]),
                          opset_imports=[oh.make_opsetid("", 13)], producer_name="make_fixtures")
    expect_checker_failure(model, "cycle.onnx")
    write_model(os.path.join(directory, "cycle.onnx"), model)
    add("cycle.onnx", "nodes add -> relu -> neg -> add form a cycle", "FormatError naming the file "
        "(cycle; the nodes involved)")

    # External data: the weight lives in a side file. The file is present, so
    # the error must be the refusal itself, not a missing file.
    model = small_gemm_model()
    w = model.graph.initializer[0]
    with open(os.path.join(directory, "external_data.bin"), "wb") as f:
        f.write(w.raw_data)
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "external_data.bin"), ("offset", "0"), ("length", "48")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    write_model(os.path.join(directory, "external_data.onnx"), model)
    add("external_data.onnx", "initializer fc.weight stored as external data in external_data.bin "
        "(present next to it)", "FormatError naming the file and the initializer (external data "
        "not supported)")

    # External data pointing outside the model's folder.
    w.external_data[0].value = "../../../../../../etc/passwd"
    write_model(os.path.join(directory, "external_data_escape.onnx"), model)
    add("external_data_escape.onnx", "initializer fc.weight refers to external data at "
        "../../../../../../etc/passwd", "FormatError; nothing outside the model is read")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    # PRESERVE export of the eval() ResNet block warns about constant folding in
    # training-amenable mode; the model is in eval mode, so folding is sound.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    manifest = {
        "generator": "tests/onnx/make_fixtures.py",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "tolerance_rule": "|actual - expected| <= atol + rtol * |expected|, elementwise",
        "fixtures": [],
        "bad": [],
    }
    make_good(manifest)
    make_handmade(manifest)
    make_bad(manifest)
    files = {}
    for root, _, names in os.walk(OUT):
        for n in sorted(names):
            path = os.path.join(root, n)
            files[os.path.relpath(path, OUT)] = sha256(path)
    manifest["sha256"] = dict(sorted(files.items()))
    with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, p)) for p in files)
    print(f"{len(files)} files, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
