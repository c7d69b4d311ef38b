from __future__ import annotations

import torch

from innr_bench.compress.base import CompressContext, Compressed, fp32_bytes
from innr_bench.compress.identity import Identity
from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.engine.cache import TensorCache
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress

CPU = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False))


def test_identity_is_exact_and_counts_fp32_bytes() -> None:
    model = seed_cnn(c=32)
    compressed = Identity().compress(model, CPU)
    assert compressed.size_bytes == fp32_bytes(model) == 4 * 62_240
    rebuilt = compressed.reconstruct(model)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), rebuilt.parameters()))


def test_the_seed_recipe_is_the_studys_notebook() -> None:
    """shared/DESIGN.md section 1: SirenNet(dim_in=5, dim_hidden=64, dim_out=1, num_layers=12,
    w0_initial=100 pi, w0=1), one query per weight, full batch, Adam 5e-4 for 2,000 epochs, fp32."""
    spec = InnrSiren(recipe="seed").spec
    assert spec.layout == {"name": "scalar"}
    assert spec.field == {"name": "siren", "version": 1, "width": 64, "depth": 12, "w0": 1.0,
                          "w0_initial": 100 * torch.pi}
    assert [s["name"] for s in spec.fit] == ["weights"]  # a weight fit, nothing else
    fit = spec.fit[0]
    assert (fit["epochs"], fit["lr"], fit["schedule"], fit["solve_every"]) == (2000, 5e-4, "constant", None)
    assert spec.storage["precision"] == "fp32" and spec.budget is None
    model = seed_cnn(c=32)
    small = InnrSiren(recipe="seed", epochs=1).compress(model, CPU)
    assert small.size_bytes == 4 * 46_209 + 8
    assert round(small.size_bytes / fp32_bytes(model), 3) == 0.742


def test_innr_fit_lowers_the_loss_and_rebuilds_from_stored_tensors(tmp_path) -> None:
    model = seed_cnn(c=2)
    compressed = InnrSiren(recipe="seed", width=16, depth=3, epochs=200, lr=1e-3).compress(model, CPU)
    history = compressed.info["history"]
    assert history[-1][1] < history[0][1]
    cache = TensorCache(tmp_path)
    cache.save("compressed", "k", compressed.tensors, {"meta": compressed.meta})
    tensors, meta = cache.load("compressed", "k")
    again = Compressed("innr-siren", tensors, meta["meta"], compressed.size_bytes)
    a, b = compressed.reconstruct(model), again.reconstruct(model)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert sum(t.numel() for t in tensors.values()) * 4 == compressed.size_bytes


def test_decoding_does_not_move_the_global_rng() -> None:
    model = seed_cnn(c=2)
    compressed = InnrSiren(recipe="seed", width=8, depth=2, epochs=1).compress(model, CPU)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    compressed.reconstruct(model)
    assert torch.equal(torch.rand(3), expected)
