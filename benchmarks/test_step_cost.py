"""Per-step cost of every hot loop (the INNR weight fit, the quantization-aware refit, the
distillation, FGSM, PGD, evaluation) at a tiny, a small and a large size, on the CPU and (when
present) on CUDA. The tiny size is all overhead (launches, host synchronisation, Python), so
`overhead share` = tiny step / step: a GPU path that regresses towards launch-bound shows as a
share near 1 at the large size on any machine that has a card.

    pytest benchmarks/test_step_cost.py --benchmark-only -s
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from bench_helpers import median_seconds
from torch import nn

from innr_bench.attacks.fgsm import input_gradient_sign
from innr_bench.attacks.pgd import pgd
from innr_bench.compress.innr.fields.siren import Siren
from innr_bench.compress.innr.stages import field_outputs, masked_mse
from innr_bench.models.lenet import lenet5
from innr_bench.models.placement import place_batch, place_model

DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
SIZES = {"tiny": 0, "small": 1, "large": 2}
STEPS = 20
_timings: dict[tuple[str, str, str], float] = {}


def _field_step(device: torch.device, size: int, bits: int | None) -> Callable[[], None]:
    queries, width = [(64, 8), (2_500, 64), (10_700, 192)][size]
    field = Siren(dim_in=3, dim_out=25, width=width, depth=4).to(device)
    x, y = torch.rand(queries, 3, device=device) * 2 - 1, torch.randn(queries, 25, device=device)
    optimizer = torch.optim.Adam(field.parameters(), lr=1e-3)

    def step() -> None:
        loss = masked_mse(field_outputs(field, x, bits), y, None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _distill_step(device: torch.device, size: int) -> Callable[[], None]:
    """One distillation step: the field at every query, the decoded LeNet-5 on a batch, KL."""
    from torch.func import functional_call

    batch = [4, 64, 256][size]
    teacher = place_model(lenet5(), device).eval()
    names = [n for n, _ in teacher.named_parameters()]
    shapes = [p.shape for p in teacher.parameters()]
    total = sum(p.numel() for p in teacher.parameters())
    queries = -(-total // 25)
    field = Siren(dim_in=3, dim_out=25, width=64, depth=4).to(device)
    coords = torch.rand(queries, 3, device=device) * 2 - 1
    x = place_batch(torch.rand(batch, 1, 28, 28), device)
    target = torch.softmax(torch.randn(batch, 10, device=device), 1)
    optimizer = torch.optim.Adam(field.parameters(), lr=5e-4)

    def step() -> None:
        flat = field_outputs(field, coords, 8).reshape(-1)[:total]
        weights = dict(zip(names, (t.reshape(s) for t, s in zip(flat.split([s.numel() for s in shapes]),
                                                                  shapes))))
        logits = functional_call(teacher, weights, (x,))
        loss = nn.functional.kl_div(logits.log_softmax(1), target, reduction="batchmean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _attack_step(device: torch.device, size: int, kind: str) -> Callable[[], None]:
    batch = [2, 100, 1000][size]
    model = place_model(lenet5(), device).eval()
    x, y = place_batch(torch.rand(batch, 1, 28, 28), device), torch.randint(0, 10, (batch,), device=device)
    if kind == "fgsm":
        return lambda: input_gradient_sign(model, x, y)
    if kind == "pgd":  # one of PGD's steps: a signed gradient step and the projection
        return lambda: pgd(model, x, y, eps=0.1, steps=1, step_size=0.025, start=None, target_class=None,
                           clamp=True)

    def evaluate() -> None:
        with torch.no_grad():
            model(x).argmax(1)

    return evaluate


LOOPS: dict[str, Callable[[torch.device, int], Callable[[], None]]] = {
    "weight fit": lambda d, s: _field_step(d, s, None),
    "qat refit": lambda d, s: _field_step(d, s, 8),
    "distill": _distill_step,
    "fgsm": lambda d, s: _attack_step(d, s, "fgsm"),
    "pgd": lambda d, s: _attack_step(d, s, "pgd"),
    "evaluate": lambda d, s: _attack_step(d, s, "evaluate"),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("loop", list(LOOPS))
def test_step_cost(benchmark, loop: str, size: str, device: str) -> None:
    torch.manual_seed(0)
    where = torch.device(device)
    step = LOOPS[loop](where, SIZES[size])
    seconds = median_seconds(step, where, calls=STEPS)
    _timings[(loop, size, device)] = seconds
    benchmark.extra_info.update(loop=loop, size=size, device=device, seconds_per_step=seconds)
    benchmark.pedantic(step, rounds=3, iterations=1)
    tiny = _timings.get((loop, "tiny", device))
    share = f", overhead share {tiny / seconds:.2f}" if tiny and size != "tiny" else ""
    print(f"\n{loop:11s} {size:5s} {device:4s} {1000 * seconds:9.3f} ms/step{share}")
