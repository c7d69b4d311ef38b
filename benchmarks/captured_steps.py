"""Whether captured steps pay on a card: the INNR weight-fit step, the distillation step and a PGD
step (the step benchmark's loops, `test_step_cost.py`, at its tiny / small / large sizes), each
eager, captured once and replayed as a CUDA graph (static inputs, Adam with `capturable=True`
and the learning rate as a tensor, no host synchronisation inside), and under
`torch.compile(mode="reduce-overhead")` for the fit (its compile time reported apart). Reports
ms a step and the overhead share (tiny step / large step) of each way.

    python benchmarks/captured_steps.py --device cuda [--steps 50] [--out FILE.json]

An experiment: the runner's loops stay eager until a card has measured this (the card issue).
On the CPU only the eager rows are measured (CUDA graphs need a card; compile is left out).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from innr_bench.attacks.pgd import pgd
from innr_bench.compress.innr.fields.siren import Siren
from innr_bench.engine.env import environment
from innr_bench.models.lenet import lenet5

FIELD_SIZES = {"tiny": (64, 8), "small": (2_500, 64), "large": (10_700, 192)}  # (queries, width)
BATCHES = {"tiny": 4, "small": 64, "large": 256}  # distillation and PGD inputs a step
Step = Callable[[], Any]


def fit_problem(size: str, device: torch.device) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    queries, width = FIELD_SIZES[size]
    torch.manual_seed(0)
    field = Siren(dim_in=3, dim_out=25, width=width, depth=4).to(device)
    return field, torch.rand(queries, 3, device=device) * 2 - 1, torch.randn(queries, 25, device=device)


def eager_fit(field: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Step:
    optimizer = torch.optim.Adam(field.parameters(), lr=1e-3)

    def step() -> None:
        loss = nn.functional.mse_loss(field(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def captured(body: Callable[[], None], warmup: int = 3) -> Step:
    """`body` warmed up on a side stream, then captured whole (PyTorch's whole-network capture)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            body()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        body()
    return graph.replay


def graph_fit(field: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Step:
    """The fit step as a CUDA graph: Adam capturable, its lr a tensor a schedule could fill."""
    lr = torch.tensor(1e-3, device=x.device)
    optimizer = torch.optim.Adam(field.parameters(), lr=lr, capturable=True)

    def body() -> None:
        optimizer.zero_grad(set_to_none=False)  # grads stay the graph's static buffers
        nn.functional.mse_loss(field(x), y).backward()
        optimizer.step()

    return captured(body)


def compiled_fit(field: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Step:
    optimizer = torch.optim.Adam(field.parameters(), lr=1e-3)
    loss_of = torch.compile(lambda: nn.functional.mse_loss(field(x), y), mode="reduce-overhead")

    def step() -> None:
        loss = loss_of()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def distill_problem(size: str, device: torch.device) -> dict[str, Any]:
    """A field decoding LeNet-5's weights and a batch: KL of the decoded net to a fixed target."""
    torch.manual_seed(0)
    net = lenet5().to(device).eval()
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    total = sum(p.numel() for p in net.parameters())
    field = Siren(dim_in=3, dim_out=25, width=64, depth=4).to(device)
    return {"net": net, "names": names, "shapes": shapes, "total": total, "field": field,
            "coords": torch.rand(-(-total // 25), 3, device=device) * 2 - 1,
            "x": torch.rand(BATCHES[size], 1, 28, 28, device=device),
            "target": torch.softmax(torch.randn(BATCHES[size], 10, device=device), 1)}


def distill_body(p: dict[str, Any], optimizer: torch.optim.Optimizer,
                 set_to_none: bool) -> Callable[[], None]:
    def body() -> None:
        flat = p["field"](p["coords"]).reshape(-1)[:p["total"]]
        weights = dict(zip(p["names"], [w.reshape(s) for w, s in
                                        zip(flat.split([s.numel() for s in p["shapes"]]), p["shapes"])]))
        logits = functional_call(p["net"], weights, (p["x"],))
        loss = nn.functional.kl_div(logits.log_softmax(1), p["target"], reduction="batchmean")
        optimizer.zero_grad(set_to_none=set_to_none)
        loss.backward()
        optimizer.step()

    return body


def eager_distill(p: dict[str, Any]) -> Step:
    return distill_body(p, torch.optim.Adam(p["field"].parameters(), lr=1e-4), True)


def graph_distill(p: dict[str, Any]) -> Step:
    lr = torch.tensor(1e-4, device=p["x"].device)
    return captured(distill_body(p, torch.optim.Adam(p["field"].parameters(), lr=lr, capturable=True), False))


def pgd_problem(size: str, device: torch.device) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return (lenet5().to(device).eval(), torch.rand(BATCHES[size], 1, 28, 28, device=device),
            torch.randint(0, 10, (BATCHES[size],), device=device))


def eager_pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Step:
    return lambda: pgd(model, x, y, eps=0.1, steps=1, step_size=0.01, start=None, target_class=None,
                       clamp=True)


def graph_pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Step:
    """One PGD step on static buffers: the input gradient's sign, projected, clamped."""
    x_adv = x.clone()

    def body() -> None:
        probe = x_adv.detach().requires_grad_(True)
        loss = nn.functional.cross_entropy(model(probe), y)
        (grad,) = torch.autograd.grad(loss, probe)
        x_adv.copy_(torch.min(torch.max(probe.detach() + 0.01 * grad.sign(), x - 0.1), x + 0.1).clamp(0, 1))

    return captured(body)


def ms_per_step(step: Step, steps: int, device: torch.device) -> float:
    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps * 1000


def measure(size: str, device: torch.device, steps: int) -> dict[str, dict[str, Any]]:
    """ms a step of each loop at `size`, each way the device has (and each way's setup seconds)."""
    card = device.type == "cuda"
    field, x, y = fit_problem(size, device)
    fits: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], Step]] = {"eager": eager_fit}
    if card:
        fits |= {"graph": graph_fit, "compile": compiled_fit}
    rows: dict[str, dict[str, Any]] = {f"fit {size}": {}, f"distill {size}": {}, f"pgd {size}": {}}
    for way, make in fits.items():
        start = time.perf_counter()
        step = make(copy.deepcopy(field), x, y)
        rows[f"fit {size}"][f"{way} setup s"] = round(time.perf_counter() - start, 2)
        rows[f"fit {size}"][way] = round(ms_per_step(step, steps, device), 3)
    problem = distill_problem(size, device)
    distills = {"eager": eager_distill, **({"graph": graph_distill} if card else {})}
    for way, make_distill in distills.items():
        rows[f"distill {size}"][way] = round(ms_per_step(make_distill(problem), steps, device), 3)
    model, xb, yb = pgd_problem(size, device)
    pgds = {"eager": eager_pgd, **({"graph": graph_pgd} if card else {})}
    for way, make_pgd in pgds.items():
        rows[f"pgd {size}"][way] = round(ms_per_step(make_pgd(model, xb, yb), steps, device), 3)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--out")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows: dict[str, dict[str, Any]] = {}
    for size in FIELD_SIZES:
        rows |= measure(size, device, args.steps)
    for loop in ("fit", "distill", "pgd"):
        for way in list(rows[f"{loop} large"]):
            if way.endswith("setup s"):
                continue
            share = rows[f"{loop} tiny"][way] / rows[f"{loop} large"][way]
            rows[f"{loop} large"][f"{way} overhead share"] = round(share, 3)
    for name, row in rows.items():
        print(f"{name:14s} " + "  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"benchmark": "captured_steps", "steps": args.steps, "ms_per_step": rows,
                       "environment": environment(device)}, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
