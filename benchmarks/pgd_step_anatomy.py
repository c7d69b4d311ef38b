"""Where a PGD step of the inheritance board goes on the CPU: the seed CNN (c=32) attacked on 500
inputs as suites/fashion-mnist.yaml's white-box PGD cell does (eps 0.0924, 10 steps, channels-last,
freed memory kept), timed whole and per operator (torch.profiler, ms a step and share), with the
oneDNN implementation of every convolution pass (ONEDNN_VERBOSE, in a child process), and the
convolutions' share: their ms a step times the 40 steps a copy is what a copy's white-box PGD
would cost with these kernels if nothing else cost anything.

It also times one alternative for the costliest pass, the input gradient of the first convolution
(1 input channel: oneDNN pads it to 16), as a matrix product over the output channels and a fold
(col2im), and says what using it would do to the attack: whether the gradient is bit for bit the
same, and how many pixels and predictions of the final adversarials differ. A different order of
summation is a different number, so a published count could move; this is why the board does not
use it.

    python benchmarks/pgd_step_anatomy.py [--rounds 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import torch
from bench_helpers import emit, median_seconds
from torch import nn
from torch.nn import functional as F

from innr_bench.attacks.pgd import pgd
from innr_bench.engine import memory
from innr_bench.engine.env import environment
from innr_bench.models.placement import place_batch, place_model
from innr_bench.models.seed_cnn import seed_cnn

CPU = torch.device("cpu")
INPUTS, EPS, STEPS = 500, 0.0924, 10
# The board's PGD cell attacks every copy at 5 eps, one of them 0 (no steps): 40 steps a copy.
STEPS_PER_COPY = 4 * STEPS


def setting() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    net = place_model(seed_cnn(c=32).eval(), CPU)
    g = torch.Generator().manual_seed(1)
    x = place_batch(torch.rand(INPUTS, 1, 28, 28, generator=g), CPU)
    return net, x, torch.randint(0, 10, (INPUTS,), generator=g)


def attack(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The cell's PGD at one eps: random start, 10 steps of 2.5 eps / 10."""
    start = (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1) * EPS
    return pgd(net, x, y, eps=EPS, steps=STEPS, step_size=2.5 * EPS / STEPS, start=start, target_class=None,
               clamp=True)


def step_ms(net: nn.Module, x: torch.Tensor, y: torch.Tensor, rounds: int) -> list[float]:
    attack(net, x, y)  # warm-up
    runs = []
    for _ in range(rounds):
        start = time.perf_counter()
        attack(net, x, y)
        runs.append((time.perf_counter() - start) / STEPS * 1000)
    return runs


def operators(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[list[dict[str, Any]], float, float]:
    """Self CPU ms a step per (operator, first input's shape), largest first (those of at least
    0.25 % of the step), the step's profiled ms and its convolutions' ms."""
    with torch.profiler.profile(record_shapes=True) as prof:
        attack(net, x, y)
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for event in prof.key_averages(group_by_input_shape=True):
        shape = str(event.input_shapes[0]) if event.input_shapes and event.input_shapes[0] else ""
        totals[(event.key, shape)] += event.self_cpu_time_total / 1000 / STEPS
    whole = sum(totals.values())
    rows = [{"op": op, "shape": shape, "ms_per_step": round(ms, 2), "share": round(ms / whole, 3)}
            for (op, shape), ms in sorted(totals.items(), key=lambda kv: -kv[1]) if ms >= 0.0025 * whole]
    return rows, whole, sum(ms for (op, _), ms in totals.items() if "convolution" in op)


def onednn_implementations() -> list[dict[str, Any]]:
    """Each convolution pass of one attack as oneDNN ran it: implementation, problem, median ms
    (the attack's first call of each, which creates the primitive, left out)."""
    here, threads = os.path.dirname(os.path.abspath(__file__)), torch.get_num_threads()
    child = (f"import sys; sys.path.insert(0, {here!r}); import pgd_step_anatomy as a; import torch;"
             f"a.memory.keep_freed_memory('cpu'); torch.set_num_threads({threads});"
             "net, x, y = a.setting(); a.attack(net, x, y)")
    done = subprocess.run([sys.executable, "-c", child], env={**os.environ, "ONEDNN_VERBOSE": "1"},
                          stdout=subprocess.PIPE, text=True, check=True)
    seen: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for line in done.stdout.splitlines():
        fields = line.split(",")
        if len(fields) > 10 and fields[2:5] == ["primitive", "exec", "cpu"] and fields[5] == "convolution":
            seen[(fields[6], fields[7], fields[-2])].append(float(fields[-1]))
    return [{"implementation": impl, "pass": kind, "problem": problem,
             "ms_median": round(statistics.median(ms[1:] or ms), 2)}
            for (impl, kind, problem), ms in seen.items()]


class MatmulFoldInputGradient(torch.autograd.Function):
    """A one-input-channel convolution (no bias, stride 1) whose input gradient is a matrix
    product over the output channels, then a fold: the same sum in another order."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(weight)
        ctx.size = x.shape[-2:]
        return F.conv2d(x, weight)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (weight,) = ctx.saved_tensors
        return matmul_fold(grad, weight, ctx.size), None


def matmul_fold(grad: torch.Tensor, weight: torch.Tensor, size: torch.Size) -> torch.Tensor:
    n, c, h, w = grad.shape
    k = weight.shape[-1]
    columns = grad.permute(0, 2, 3, 1).reshape(-1, c) @ weight.reshape(c, k * k)  # (n*h*w, k*k)
    folded = F.fold(columns.view(n, h * w, k * k).transpose(1, 2), tuple(size), k)
    return folded.contiguous(memory_format=torch.channels_last)


class FirstConvAlternative(nn.Module):
    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return MatmulFoldInputGradient.apply(x, self.conv.weight)


def alternative(net: nn.Module, x: torch.Tensor, y: torch.Tensor, rounds: int) -> dict[str, Any]:
    """The first convolution's input gradient both ways: ms, equality, and what PGD would give."""
    conv = net[1]
    with torch.no_grad():
        grad = place_batch(torch.randn(INPUTS, conv.out_channels, 24, 24), CPU)

    def aten() -> torch.Tensor:
        return torch.ops.aten.convolution_backward(grad, x, conv.weight, None, [1, 1], [0, 0], [1, 1], False,
                                                   [0, 0], 1, [True, False, False])[0]

    def alternative_pass() -> torch.Tensor:
        return matmul_fold(grad, conv.weight.detach(), x.shape[-2:])

    ms_aten = 1000 * median_seconds(aten, CPU, calls=rounds * 4, warmup=1)
    ms_alt = 1000 * median_seconds(alternative_pass, CPU, calls=rounds * 4, warmup=1)
    reference, other = aten(), alternative_pass()
    changed = nn.Sequential(net[0], FirstConvAlternative(conv), *list(net)[2:])
    adv_aten, adv_alt = attack(net, x, y), attack(changed, x, y)
    with torch.no_grad():
        predictions_differing = int((net(adv_aten).argmax(1) != net(adv_alt).argmax(1)).sum())
    return {
        "ms_aten": round(ms_aten, 2), "ms_matmul_fold": round(ms_alt, 2),
        "speedup": round(ms_aten / ms_alt, 2),
        "bit_identical": bool(torch.equal(reference, other)),
        "max_abs_difference": float((reference - other).abs().max().detach()),
        "signs_differing": int((reference.sign() != other.sign()).sum()),
        "pgd_step_ms_with_it": round(statistics.median(step_ms(changed, x, y, rounds)), 2),
        "adversarial_pixels_differing": int((adv_aten != adv_alt).sum()), "pixels": adv_aten.numel(),
        "predictions_differing": predictions_differing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    memory.keep_freed_memory("cpu")  # as in a run's worker
    env = environment(CPU)
    net, x, y = setting()
    runs = step_ms(net, x, y, args.rounds)
    ops, whole, convolutions = operators(net, x, y)
    out = {
        "environment": {k: env.get(k) for k in ("device_name", "cpu_count", "git_commit", "packages")},
        "threads": torch.get_num_threads(), "inputs": INPUTS, "eps": EPS,
        "step_ms_median": round(statistics.median(runs), 2), "step_ms_runs": [round(r, 2) for r in runs],
        "profiled_ms_per_step": round(whole, 2), "convolution_ms_per_step": round(convolutions, 2),
        "convolution_share": round(convolutions / whole, 3),
        # what a copy's white-box PGD would cost with these convolution kernels if nothing else
        # cost anything (the board's transferred and clean passes come on top)
        "steps_per_copy": STEPS_PER_COPY,
        "convolution_seconds_per_copy": round(STEPS_PER_COPY * convolutions / 1000, 2),
        "operators": ops, "onednn": onednn_implementations(),
        "first_conv_input_gradient": alternative(net, x, y, args.rounds),
    }
    emit(out, args.out)


if __name__ == "__main__":
    main()
