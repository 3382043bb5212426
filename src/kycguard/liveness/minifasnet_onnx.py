"""MiniFASNet (Silent-Face anti-spoofing) written as an ONNX graph from its published weights.

Used only by ``kycguard models import``: the service never imports torch or onnx. Torch is needed
for one thing, reading the legacy ``.pth`` pickles (``torch.load(weights_only=True)``, which refuses
any pickle that is more than tensors); the network itself is built here node by node, so the
converted file is exactly the architecture below and nothing a pickle could smuggle in.

Architecture (MiniFASNetV1SE / V2 from minivision-ai/Silent-Face-Anti-Spoofing, Apache-2.0), as the
state-dict key names spell it::

    conv1 (3x3 s2) -> conv2_dw (3x3 depthwise) -> conv_23 (bottleneck s2) -> conv_3 (4 residual)
    -> conv_34 (s2) -> conv_4 (6 residual) -> conv_45 (s2) -> conv_5 (2 residual)
    -> conv_6_sep (1x1) -> conv_6_dw (5x5 depthwise, valid) -> flatten -> linear -> bn -> prob -> softmax

A bottleneck is 1x1 conv+BN+PReLU, depthwise 3x3 conv+BN+PReLU, 1x1 conv+BN; residual blocks add
their input; in the "SE" variant the last residual block of each stage scales its output by a
squeeze-and-excitation gate (avgpool, 1x1, BN, ReLU, 1x1, BN, sigmoid) before the addition.
Channel counts and depthwise groups are read from the weight shapes (the pruned "keep" lists differ
per variant). BatchNorm is folded into the preceding convolution/linear layer (eval mode, eps 1e-5).

Several weight files become one ensemble file: one input per crop scale, output the mean of their
softmaxes, as upstream averages its two models. The file is written deterministically, so the same
weights always give the same SHA-256 (pinned in the settings).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # onnx is needed by `kycguard models import` only
    from onnx import ModelProto, NodeProto, TensorProto, ValueInfoProto

BN_EPS = 1e-5
OPSET = 17
IR_VERSION = 8
INPUT_SIZE = 80


@dataclass(frozen=True)
class WeightFile:
    """One ``<scale>_<H>x<W>_<arch>.pth`` file and what its name says."""

    path: Path
    scale: float
    height: int
    width: int
    arch: str

    @staticmethod
    def parse(path: Path) -> WeightFile:
        """Upstream encodes the crop in the file name: ``2.7_80x80_MiniFASNetV2.pth``, ``4_0_0_80x80_...``."""
        m = re.fullmatch(
            r"(?P<scale>[0-9._]+?)_(?P<h>\d+)x(?P<w>\d+)_(?P<arch>\w+)\.pth", path.name
        )
        if m is None:
            raise ValueError(f"{path.name}: expected a name like 2.7_80x80_MiniFASNetV2.pth")
        # "4_0_0" is upstream's spelling of 4.0: the first field is the scale.
        scale = float(m["scale"].split("_")[0])
        return WeightFile(path, scale, int(m["h"]), int(m["w"]), m["arch"])


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a torch ``.pth`` state dict as float32 arrays, ``module.`` prefixes stripped."""
    try:
        import torch
    except ImportError as exc:  # the optional extra
        raise RuntimeError(
            "reading .pth files needs torch: pip install 'kycguard[models]'"
        ) from exc
    raw = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path} does not hold a state dict")
    out: dict[str, np.ndarray] = {}
    for key, tensor in raw.items():
        if key.endswith("num_batches_tracked"):
            continue
        out[key.removeprefix("module.")] = tensor.detach().cpu().numpy().astype(np.float32)
    return out


class _Graph:
    """Minimal ONNX graph builder: named nodes and initializers, deterministic names."""

    def __init__(self) -> None:
        self.nodes: list[NodeProto] = []
        self.inits: list[TensorProto] = []
        self._n = 0

    def const(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], prefix: str, **attrs: Any) -> str:
        from onnx import helper

        self._n += 1
        out = f"{prefix}/{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


class _Net:
    """One MiniFASNet's weights and the graph it is being written into."""

    def __init__(self, g: _Graph, sd: Mapping[str, np.ndarray], tag: str) -> None:
        self.g, self.sd, self.tag = g, sd, tag
        self.used: set[str] = set()

    def w(self, key: str) -> np.ndarray:
        self.used.add(key)
        return self.sd[key]

    def _bn(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        gamma, beta = self.w(f"{key}.weight"), self.w(f"{key}.bias")
        mean, var = self.w(f"{key}.running_mean"), self.w(f"{key}.running_var")
        scale = gamma / np.sqrt(var + BN_EPS)
        return scale, beta - mean * scale

    def conv_bn(
        self, x: str, key: str, conv: str, bn: str, stride: int, pad: int | None, in_ch: int
    ) -> str:
        """Conv2d(bias=False) + BatchNorm2d folded into one Conv."""
        weight = self.w(f"{key}.{conv}.weight")
        scale, shift = self._bn(f"{key}.{bn}")
        k = weight.shape[2]
        groups = in_ch // weight.shape[1]
        pad = k // 2 if pad is None else pad
        name = f"{self.tag}/{key}.{conv}"
        return self.g.op(
            "Conv",
            [
                x,
                self.g.const(f"{name}.w", weight * scale[:, None, None, None]),
                self.g.const(f"{name}.b", shift),
            ],
            name,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad] * 4,
            group=groups,
        )

    def block(
        self,
        x: str,
        key: str,
        in_ch: int,
        stride: int = 1,
        pad: int | None = None,
        act: bool = True,
    ) -> tuple[str, int]:
        """Conv_block (conv, bn, prelu) or Linear_block (conv, bn) under ``key``."""
        y = self.conv_bn(x, key, "conv", "bn", stride, pad, in_ch)
        out_ch = self.sd[f"{key}.conv.weight"].shape[0]
        if act:
            slope = self.w(f"{key}.prelu.weight").reshape(-1, 1, 1)
            y = self.g.op(
                "PRelu", [y, self.g.const(f"{self.tag}/{key}.slope", slope)], f"{self.tag}/{key}"
            )
        return y, out_ch

    def se(self, x: str, key: str, ch: int) -> str:
        name = f"{self.tag}/{key}"
        pooled = self.g.op("GlobalAveragePool", [x], name)
        h = self.conv_bn(pooled, key, "fc1", "bn1", 1, 0, ch)
        h = self.g.op("Relu", [h], name)
        mid = self.sd[f"{key}.fc1.weight"].shape[0]
        gate = self.g.op("Sigmoid", [self.conv_bn(h, key, "fc2", "bn2", 1, 0, mid)], name)
        return self.g.op("Mul", [x, gate], name)

    def bottleneck(
        self, x: str, key: str, in_ch: int, stride: int, residual: bool
    ) -> tuple[str, int]:
        y, ch = self.block(x, f"{key}.conv", in_ch)
        y, ch = self.block(y, f"{key}.conv_dw", ch, stride=stride)
        y, ch = self.block(y, f"{key}.project", ch, act=False)
        if f"{key}.se_module.fc1.weight" in self.sd:
            y = self.se(y, f"{key}.se_module", ch)
        if residual:
            y = self.g.op("Add", [x, y], f"{self.tag}/{key}")
        return y, ch

    def forward(self, x: str) -> str:
        y, ch = self.block(x, "conv1", 3, stride=2)
        y, ch = self.block(y, "conv2_dw", ch)
        for down, stage in (("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5")):
            y, ch = self.bottleneck(y, down, ch, stride=2, residual=False)
            i = 0
            while f"{stage}.model.{i}.conv.conv.weight" in self.sd:
                y, ch = self.bottleneck(y, f"{stage}.model.{i}", ch, stride=1, residual=True)
                i += 1
        y, ch = self.block(y, "conv_6_sep", ch)
        y, ch = self.block(y, "conv_6_dw", ch, pad=0, act=False)
        y = self.g.op("Flatten", [y], self.tag, axis=1)
        if "linear.weight" in self.sd:  # upstream skips it when the embedding is 512 wide
            y = self.g.op(
                "MatMul",
                [y, self.g.const(f"{self.tag}/linear.w", self.w("linear.weight").T)],
                self.tag,
            )
        scale, shift = self._bn("bn")
        y = self.g.op("Mul", [y, self.g.const(f"{self.tag}/bn.s", scale)], self.tag)
        y = self.g.op("Add", [y, self.g.const(f"{self.tag}/bn.b", shift)], self.tag)
        y = self.g.op(
            "MatMul", [y, self.g.const(f"{self.tag}/prob.w", self.w("prob.weight").T)], self.tag
        )
        unused = sorted(
            k for k in self.sd if k not in self.used and not k.startswith("FTGenerator")
        )
        if unused:
            raise ValueError(f"{self.tag}: weights not used by the MiniFASNet graph: {unused[:5]}")
        return self.g.op("Softmax", [y], self.tag, axis=1)


def input_name(scale: float) -> str:
    return f"crop_scale_{scale:g}"


def build_ensemble(files: Sequence[tuple[WeightFile, Mapping[str, np.ndarray]]]) -> ModelProto:
    """An ONNX ModelProto: one BGR float input (N,3,80,80, 0..255) per file, output the mean softmax."""
    from onnx import TensorProto, checker, helper

    if not files:
        raise ValueError("no weight files")
    g = _Graph()
    inputs: list[ValueInfoProto] = []
    probs: list[str] = []
    for wf, sd in sorted(files, key=lambda f: f[0].scale):
        if (wf.height, wf.width) != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"{wf.path.name}: only {INPUT_SIZE}x{INPUT_SIZE} models are supported")
        name = input_name(wf.scale)
        if any(i.name == name for i in inputs):
            raise ValueError(f"two weight files for crop scale {wf.scale}")
        inputs.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE])
        )
        probs.append(_Net(g, sd, f"{wf.arch}_s{wf.scale:g}").forward(name))
    total = probs[0] if len(probs) == 1 else g.op("Sum", probs, "ensemble")
    mean = g.op(
        "Mul",
        [total, g.const("ensemble/inv_n", np.array(1.0 / len(probs), np.float32))],
        "ensemble",
    )
    g.nodes.append(helper.make_node("Identity", [mean], ["probabilities"], name="probabilities"))
    output = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph(g.nodes, "minifasnet_ensemble", inputs, [output], initializer=g.inits)
    model = helper.make_model(
        graph, producer_name="kycguard", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = IR_VERSION
    meta = {
        "kycguard.kind": "minifasnet_ensemble",
        "kycguard.input": "BGR float32 0..255 (no /255), NCHW, crop of scale x face box resized to 80x80",
        "kycguard.real_index": "1",
        "kycguard.scales": ",".join(
            f"{wf.scale:g}" for wf, _ in sorted(files, key=lambda f: f[0].scale)
        ),
        "kycguard.sources": ",".join(sorted(wf.path.name for wf, _ in files)),
    }
    helper.set_model_props(model, meta)
    checker.check_model(model)
    return model


def convert(paths: Sequence[Path], out: Path) -> Path:
    """Read the ``.pth`` files, write the ensemble ONNX to ``out`` (a file or a folder)."""
    files = []
    for p in paths:
        wf = WeightFile.parse(Path(p))
        files.append((wf, load_state_dict(wf.path)))
    model = build_ensemble(files)
    target = out / "minifasnet.onnx" if out.suffix != ".onnx" else out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(model.SerializeToString(deterministic=True))
    return target
