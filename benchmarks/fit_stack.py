"""Whether fitting several INNRs of one target together pays: K SIREN weight fits of the same shape
(K seeds of one setting), one after another against all K in one step (torch.func.vmap over
their stacked parameters, one Adam over the stacked tensors, the sum of their losses, so each
field gets the gradient it would get alone), at the per-step benchmark's small and large sizes
(benchmarks/test_step_cost.py). Reports ms a fit-step both ways, the speed-up, and how far the
stacked fields are from the separate ones after the timed steps (batched matrix products may sum
in another order). The runner fits together with `eval.stack_fits` (compress/innr/together.py);
this measures whether it should, on the device asked for (`--device cuda` on a card:
benchmarks/gpu_check.sh).

    python benchmarks/fit_stack.py [--copies 1 3 8] [--steps 20] [--device cuda] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import torch
from bench_helpers import median_seconds
from torch import nn
from torch.func import vmap

from innr_bench.compress.innr.fields.siren import Siren
from innr_bench.engine import memory
from innr_bench.engine.env import environment
from innr_bench.models.stacked import Stacked

SIZES = {"small": (2_500, 64), "large": (10_700, 192)}  # (queries, width), as test_step_cost.py


def problems(k: int, queries: int, width: int, device: torch.device
             ) -> tuple[list[nn.Module], list[torch.Tensor], list[torch.Tensor]]:
    """K fields (seeds 0..K-1) and K targets (coordinates and 25 values a query) of one shape."""
    fields, coords, values = [], [], []
    for seed in range(k):
        torch.manual_seed(seed)
        fields.append(Siren(dim_in=3, dim_out=25, width=width, depth=4).to(device))
        coords.append(torch.rand(queries, 3, device=device) * 2 - 1)
        values.append(torch.randn(queries, 25, device=device) * 0.05)
    return fields, coords, values


def separate(fields: list[nn.Module], coords: list[torch.Tensor], values: list[torch.Tensor]
             ) -> tuple[Callable[[], None], Callable[[], list[dict[str, torch.Tensor]]]]:
    optimizers = [torch.optim.Adam(f.parameters(), lr=1e-4) for f in fields]

    def step() -> None:
        for field, optimizer, x, y in zip(fields, optimizers, coords, values, strict=True):
            loss = nn.functional.mse_loss(field(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return step, lambda: [{k: v.detach() for k, v in f.named_parameters()} for f in fields]


def stacked(fields: list[nn.Module], coords: list[torch.Tensor], values: list[torch.Tensor]
            ) -> tuple[Callable[[], None], Callable[[], list[dict[str, torch.Tensor]]]]:
    together = Stacked(fields)  # the board's stacking (models/stacked.py), its parameters trained here
    params = {k: v.requires_grad_(True) for k, v in together.params.items()}
    optimizer = torch.optim.Adam(params.values(), lr=1e-4)
    x, y = torch.stack(coords), torch.stack(values)
    losses = vmap(nn.functional.mse_loss)

    def step() -> None:
        loss = losses(together(x), y).sum()  # each field's own mean: its gradient as alone
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, lambda: [{k: v[i].detach() for k, v in params.items()} for i in range(len(fields))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, nargs="*", default=[1, 3, 8])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out")
    args = parser.parse_args()
    device = torch.device(args.device)
    memory.keep_freed_memory(device.type)  # as in a run's worker
    env = environment(device)
    out: dict[str, Any] = {"environment": {k: env.get(k) for k in ("device_name", "cpu_count", "git_commit",
                                                                   "packages", "torch")},
                           "threads": torch.get_num_threads(), "steps": args.steps, "results": []}
    for size, (queries, width) in SIZES.items():
        for k in args.copies:
            one_by_one, read_separate = separate(*problems(k, queries, width, device))
            together, read_stacked = stacked(*problems(k, queries, width, device))
            ms_separate = 1000 * median_seconds(one_by_one, device, calls=args.steps) / k
            ms_stacked = 1000 * median_seconds(together, device, calls=args.steps) / k
            difference = max(float((a[n] - b[n]).abs().max())
                             for a, b in zip(read_separate(), read_stacked(), strict=True) for n in a)
            row = {"size": size, "queries": queries, "width": width, "fits": k,
                   "ms_per_fit_step_separate": round(ms_separate, 3),
                   "ms_per_fit_step_stacked": round(ms_stacked, 3),
                   "speedup": round(ms_separate / ms_stacked, 2), "max_parameter_difference": difference}
            out["results"].append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "w") as handle:
                    json.dump(out, handle, indent=1)


if __name__ == "__main__":
    main()
