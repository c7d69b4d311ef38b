"""`nnc`: the standard codec, MPEG Neural Network Coding (ISO/IEC 15938-17) through NNCodec.

Each parameter tensor of two or more dimensions (NNC's "weights") is quantized with the step
2^(qp / 2^qp_density), uniformly or with dependent (trellis-coded) quantization, optionally
through a codebook, and coded with DeepCABAC's context-adaptive arithmetic coding; 1-D
parameters (biases, batch-norm scales and shifts) take `nonweight_qp`, or are kept exact in
fp32 beside the bitstream. Data-free by default.

`sparsity` prunes first (global magnitude, as `prune-global`): the zeros cost NNC a flag each,
so no mask is stored (uniform quantization keeps every zero; dependent quantization's trellis may
code a few pruned weights as non-zero where that is cheaper). With `finetune_epochs` the kept
weights retrain on the training data first (the setting then uses data): Deep Compression's
stages with the standard codec in place of k-means + Huffman.

Stored: the bitstream itself (its length is the size), the exact 1-D parameters where asked, and
the target's buffers at their own dtype, as for every compressor.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from innr_bench.compress import nnc_codec
from innr_bench.compress.base import BaseCompressor, CompressContext, Encoding, named_weights
from innr_bench.compress.prune import GlobalMagnitudePruning, Sparsity, mask_keeper
from innr_bench.errors import ConfigError, CorruptArtifactError
from innr_bench.registry import COMPRESSORS

Mode = Literal["uniform", "codebook"]
BITSTREAM = "bitstream"  # the stored tensor holding the NNC bitstream (uint8)
EXACT_SUFFIX = ".values"  # a 1-D parameter kept exact (nonweight_qp: exact), fp32
# NNCodec's defaults, as steps: weights 2^-8 (qp -32 at qp_density 2), non-weights 2^-18.75
# (-75); a suite that changes qp_density alone keeps these steps
DEFAULT_STEP_EXPONENT = -8.0
DEFAULT_NONWEIGHT_STEP_EXPONENT = -18.75


def default_qp(step_exponent: float, qp_density: int) -> int:
    """The qp whose step 2^(qp / 2^qp_density) is nearest 2^step_exponent."""
    return round(step_exponent * 2**qp_density)


@COMPRESSORS.register("nnc")
class Nnc(BaseCompressor):
    """MPEG NNC (NNCodec): quantized weights coded by DeepCABAC; optionally pruned first."""

    def __init__(
        self,
        *,
        # the weights' step is 2^(qp / 2^qp_density); None: a step of 2^-8 (-32 at density 2)
        qp: int | None = None,
        qp_density: int = 2,
        mode: Mode = "uniform",  # codebook: NNC's codebook of the quantized values per tensor
        # dependent (trellis-coded) quantization; None: on for uniform (NNC's default), off for
        # codebook (NNC cannot combine them: it would shift the qp by -4 instead)
        dq: bool | None = None,
        # 1-D parameters (biases, batch-norm): their own qp, or kept exact in fp32; None: a step
        # of 2^-18.75 (-75 at density 2, the codec's default)
        nonweight_qp: int | Literal["exact"] | None = None,
        sparsity: Sparsity | None = None,  # global magnitude pruning before coding; None: none
        finetune_epochs: Annotated[int, Field(ge=1)] | None = None,  # retrain the pruned net (data)
        finetune_lr: Annotated[float, Field(gt=0)] | None = None,  # None: the target's own lr
    ) -> None:
        if qp is None:
            qp = default_qp(DEFAULT_STEP_EXPONENT, qp_density)
        if nonweight_qp is None:
            nonweight_qp = default_qp(DEFAULT_NONWEIGHT_STEP_EXPONENT, qp_density)
        nnc_codec.check_qp(qp, qp_density)
        if nonweight_qp != "exact":
            nnc_codec.check_qp(nonweight_qp, qp_density, field="nonweight_qp")
        if finetune_epochs is not None and not sparsity:
            raise ConfigError(f"finetune_epochs: {finetune_epochs} retrains a pruned net; set sparsity "
                              "(e.g. 0.9) or leave finetune_epochs out")
        if dq and mode == "codebook":
            raise ConfigError("dq: true cannot be used with mode codebook (NNC codes codebook indices "
                              "without dependent quantization); set dq: false or leave it out")
        self.qp, self.qp_density, self.mode = qp, qp_density, mode
        self.dq = mode == "uniform" if dq is None else dq
        self.nonweight_qp, self.sparsity = nonweight_qp, sparsity
        self.finetune_epochs, self.finetune_lr = finetune_epochs, finetune_lr
        self.data_free = finetune_epochs is None
        self.codec_version = nnc_codec.version()  # a suite naming nnc without the extra stops here

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Nnc:
        """The coder the spec names, with this machine's NNCodec only if it is the spec's."""
        nnc_codec.require_version(spec["nncodec"])
        return cls(**{k: v for k, v in spec.items() if k != "nncodec"})

    def resolved_spec(self) -> dict[str, Any]:
        """What a cell's key hashes: every option, and the codec's version (another NNCodec may
        code the same weights into other bytes)."""
        return {"qp": self.qp, "qp_density": self.qp_density, "mode": self.mode, "dq": self.dq,
                "nonweight_qp": self.nonweight_qp,
                **({"sparsity": self.sparsity} if self.sparsity else {}),
                **({"finetune_epochs": self.finetune_epochs, "finetune_lr": self.finetune_lr}
                   if self.finetune_epochs else {}),
                "nncodec": self.codec_version}

    def encode(self, model: nn.Module, ctx: CompressContext, **options: Any) -> Encoding:
        source, pruning = self._pruned(model, ctx)
        weights = named_weights(source)
        exact = [n for n, w in weights.items() if w.dim() < 2] if self.nonweight_qp == "exact" else []
        # NNC codes arrays of at least one dimension: a scalar parameter travels as shape (1,)
        coded = {n: w.reshape(w.shape or (1,)).numpy().astype(np.float32)
                 for n, w in weights.items() if n not in exact}
        qp_per_tensor = ({n: self.nonweight_qp for n, w in weights.items() if w.dim() < 2}
                         if self.nonweight_qp != "exact" else None)
        bitstream, printed = b"", ""  # a net of 1-D parameters only, all kept exact: no bitstream
        if coded:
            bitstream, printed = nnc_codec.encode(
                coded, qp=self.qp, qp_density=self.qp_density, dependent=self.dq,
                codebook=self.mode == "codebook", qp_per_tensor=qp_per_tensor)
        tensors = {BITSTREAM: torch.frombuffer(bytearray(bitstream), dtype=torch.uint8) if bitstream
                   else torch.zeros(0, dtype=torch.uint8)}
        tensors |= {n + EXACT_SUFFIX: weights[n].float().clone().contiguous() for n in exact}
        meta = {"shapes": {n: list(w.shape) for n, w in weights.items()}, "exact": exact,
                "nncodec": self.codec_version}
        nonweights = "fp32" if exact else f"qp {self.nonweight_qp}"
        step = nnc_codec.step_exponent(self.qp, self.qp_density)
        info = {**pruning, "bitstream_bytes": len(bitstream),
                "storage": f"NNC {self.mode}{' + DQ' if self.dq else ''} at qp {self.qp} (step 2^{step:g}), "
                           f"non-weights {nonweights}"
                           + (f", pruned to {pruning['sparsity']:.0%}" if self.sparsity else ""),
                **({"codec_notes": _distinct_lines(printed)} if printed.strip() else {})}
        return Encoding(tensors, meta, info, buffers_from=source)

    def _pruned(self, model: nn.Module, ctx: CompressContext) -> tuple[nn.Module, dict[str, Any]]:
        """The net to code (pruned and retrained where asked) and what pruning did."""
        if not self.sparsity:
            return model, {}
        pruner = GlobalMagnitudePruning(sparsity=self.sparsity, finetune_epochs=self.finetune_epochs or 0,
                                        finetune_lr=self.finetune_lr)
        masks = pruner.masks(named_weights(model))
        steps = 0
        if self.finetune_epochs:
            model, trained = pruner.retrain(model, masks, ctx, who=self.name)
            steps = int(trained.get("steps", 0))
        else:
            model = _masked(model, masks)
        zeros = sum(int((~m).sum()) for m in masks.values())
        total = sum(p.numel() for p in model.parameters())
        # the mask's share: dependent quantization may code a few pruned weights as non-zero
        return model, {"sparsity": zeros / total, "finetune_epochs": self.finetune_epochs or 0,
                       "finetune_steps": steps}

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Decode the bitstream (nothing else but the stored tensors and shapes is needed)."""
        stream = tensors[BITSTREAM].numpy().tobytes()
        arrays = nnc_codec.decode(stream) if stream else {}
        decoded = {}
        for name, shape in meta["shapes"].items():
            if name in meta["exact"]:
                decoded[name] = tensors[name + EXACT_SUFFIX].reshape(shape)
                continue
            array = arrays.get(name)
            if array is None or array.size != math.prod(shape):
                raise CorruptArtifactError(f"the NNC bitstream lacks parameter {name!r} of shape {shape} "
                                           f"(it holds {sorted(arrays)})")
            decoded[name] = torch.from_numpy(np.asarray(array, dtype=np.float32).copy()).reshape(shape)
        return decoded


def _distinct_lines(printed: str, most: int = 20) -> list[str]:
    """What the codec printed (its per-tensor choices), each line once, at most `most`."""
    return list(dict.fromkeys(line.strip() for line in printed.splitlines() if line.strip()))[:most]


def _masked(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """A copy of `model` with the pruned weights at zero."""
    model = copy.deepcopy(model)
    mask_keeper(model, masks)()
    return model
