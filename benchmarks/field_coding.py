"""The same fitted INNR fields stored three ways: fixed-width int8 codes, Huffman-coded codes and
NNC-coded codes (MPEG NNC's DeepCABAC, lossless), side by side on identical codes.

    python benchmarks/field_coding.py --json field-coding.json

The target (seed CNN c=32 on MNIST, seed 0, the seed's 590 steps) is trained first; then each
field of `suites/innr-fields.yaml` (siren, fourier-mlp) is fitted once per budget and its state
is packed by `storage.pack` with each entropy coder. Prints, per fit: the field's bytes with each
coder, NNC's bytes over Huffman's, and the share of the codes at 0 and within +-8 (how peaked the
distribution CABAC's binarization suits is). Needs the [nnc] extra.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from innr_bench import components  # noqa: F401  (registers the built-ins)
from innr_bench.compress import nnc_codec
from innr_bench.compress.base import CompressContext
from innr_bench.compress.innr import storage
from innr_bench.compress.innr.compressor import Innr
from innr_bench.compress.innr.fields.base import build_field
from innr_bench.engine.env import environment
from innr_bench.models.train import TrainConfig, train
from innr_bench.progress import Progress
from innr_bench.registry import DATASETS, MODELS

FIELDS = {  # the settings of suites/innr-fields.yaml
    "siren": {"layout": {"name": "rows", "block": 25, "normalize": "row"},
              "field": {"name": "siren", "w0": 30.0, "w0_initial": 30.0}},
    "fourier-mlp": {"layout": {"name": "rows", "block": 100, "normalize": "tensor"},
                    "field": {"name": "fourier-mlp", "sigma": 8.0},
                    "fit": [{"name": "weights"}, {"name": "qat", "epochs": 100}]},
}
BUDGETS = (0.05, 0.13, 0.3, 0.5)


def payload(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    data = DATASETS.get("mnist")()
    torch.manual_seed(0)
    model = MODELS.get("seed-cnn")(c=32)
    train(model, data, TrainConfig(lr=5e-4, batch_size=512, epochs=5, steps=590), seed=0,
          device=torch.device("cpu"), progress=Progress(enabled=False))
    model.eval()
    ctx = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False),
                          input_shape=tuple(data.test_x.shape[1:]))
    rows: list[dict[str, Any]] = []
    for family, parts in FIELDS.items():
        for ratio in BUDGETS:
            compressed = Innr(**parts, storage={"precision": "int8"}, ratio=ratio).compress(model, ctx)
            meta = compressed.meta
            with torch.random.fork_rng(devices=[]):
                field = build_field(meta["spec"]["field"], dim_in=meta["dims"][0], dim_out=meta["dims"][1])
            packed = {k.removeprefix("field."): v for k, v in compressed.tensors.items()
                      if k.startswith("field.")}
            shapes = {k: v.shape for k, v in field.state_dict().items()}
            state = storage.unpack(packed, "int8", shapes)  # the stored (rounded) field
            codes = torch.cat([storage.quantize_codes(v, 8)[0].reshape(-1) for v in state.values()])
            sizes = {entropy: payload(storage.pack(state, "int8", entropy))
                     for entropy in ("none", "huffman", "nnc")}
            row = {"field": family, "ratio": ratio, "parameters": int(codes.numel()), **sizes,
                   "nnc_over_huffman": sizes["nnc"] / sizes["huffman"],
                   "codes_at_zero": float((codes == 0).float().mean()),
                   "codes_within_8": float((codes.abs() <= 8).float().mean())}
            rows.append(row)
            print(f"{family:12s} ratio {ratio:<5} params {row['parameters']:>7,}  "
                  f"fixed {sizes['none']:>7,} B  huffman {sizes['huffman']:>7,} B  "
                  f"nnc {sizes['nnc']:>7,} B  nnc/huffman "
                  f"{row['nnc_over_huffman']:.3f}  codes 0: {row['codes_at_zero']:.3f}  |c|<=8: "
                  f"{row['codes_within_8']:.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": environment(torch.device("cpu")), "nncodec": nnc_codec.version(),
                       "target": "seed-cnn c=32, MNIST, seed 0, 590 steps", "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
