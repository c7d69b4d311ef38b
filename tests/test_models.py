from __future__ import annotations

import math

import pytest
import torch

from innr_bench.compress.innr.fields.siren import Siren, siren_parameter_count
from innr_bench.models.seed_cnn import seed_cnn


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_seed_cnn_has_the_seed_parameter_count() -> None:
    assert _count(seed_cnn(c=32)) == 62_240


def test_seed_cnn_takes_pixels_and_normalizes_inside() -> None:
    model = seed_cnn(c=4)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert len(model.state_dict()) == 3  # normalization constants are not weights


def _seed_siren() -> Siren:
    """The seed's SirenNet(dim_in=5, dim_hidden=64, dim_out=1, num_layers=12, w0=1, w0_initial=100 pi)."""
    return Siren(dim_in=5, width=64, dim_out=1, depth=12, w0=1.0, w0_initial=100 * math.pi)


def test_seed_siren_has_46209_parameters() -> None:
    assert _count(_seed_siren()) == 46_209
    assert siren_parameter_count(dim_in=5, width=64, dim_out=1, depth=12) == 46_209


def test_seed_siren_matches_siren_pytorch_under_the_same_rng_seed() -> None:
    siren_pytorch = pytest.importorskip("siren_pytorch")
    torch.manual_seed(123)
    reference = siren_pytorch.SirenNet(dim_in=5, dim_hidden=64, dim_out=1, num_layers=12,
                                       w0=1.0, w0_initial=100 * math.pi)
    torch.manual_seed(123)
    ours = _seed_siren()
    x = torch.rand(257, 5) * 2 - 1
    assert torch.equal(ours(x), reference(x))
    for a, b in zip(ours.parameters(), reference.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize(("name", "parameters"), [("lenet5", 61_706), ("lenet-300-100", 266_610),
                                                  ("lenet5-caffe", 431_080)])
def test_classic_targets_have_biases_train_and_compress(name: str, parameters: int) -> None:
    from innr_bench.compress.base import CompressContext
    from innr_bench.data.datasets import synthetic
    from innr_bench.engine.evaluate import predict
    from innr_bench.models.train import TrainConfig, train
    from innr_bench.progress import Progress
    from innr_bench.registry import COMPRESSORS, MODELS

    torch.manual_seed(0)
    model = MODELS.get(name)()
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert any(p.dim() == 1 for p in model.parameters())  # biases
    data = synthetic(n_train=256, n_test=128)
    cpu = torch.device("cpu")
    train(model, data, TrainConfig(lr=3e-3, batch_size=64, epochs=3), seed=0, device=cpu,
          progress=Progress(enabled=False))
    clean = predict(model, data.test_x, batch_size=64, device=cpu)
    assert float((clean == data.test_y).float().mean()) > 0.5
    ctx = CompressContext(seed=0, device=cpu, progress=Progress(enabled=False))
    for compressor, params in (("innr-siren", {}), ("quantize", {"bits": 8}),
                               ("prune-filters", {"sparsity": 0.25})):
        rebuilt = COMPRESSORS.get(compressor)(**params).compress(model, ctx).reconstruct(model)
        agreement = (predict(rebuilt, data.test_x, batch_size=64, device=cpu) == clean).float().mean()
        assert float(agreement) > (0.95 if compressor == "quantize" else 0.3), compressor


def test_resnet20_batch_norm_statistics_are_stored_exactly_and_counted() -> None:
    from innr_bench.compress.base import CompressContext, fp32_bytes
    from innr_bench.data.datasets import synthetic
    from innr_bench.engine.evaluate import predict
    from innr_bench.models.train import TrainConfig, train
    from innr_bench.progress import Progress
    from innr_bench.registry import COMPRESSORS, MODELS

    torch.manual_seed(0)
    model = MODELS.get("resnet20")(width=8)
    data = synthetic(n_train=256, n_test=128, size=32, channels=3)
    cpu = torch.device("cpu")
    # enough steps for the running statistics (momentum 0.1) to settle
    train(model, data, TrainConfig(lr=1e-2, batch_size=64, epochs=15), seed=0, device=cpu,
          progress=Progress(enabled=False))
    clean = predict(model, data.test_x, batch_size=64, device=cpu)
    assert float((clean == data.test_y).float().mean()) > 0.5
    buffers = dict(model.named_buffers())
    buffer_bytes = sum(b.numel() * b.element_size() for b in buffers.values())
    ctx = CompressContext(seed=0, device=cpu, progress=Progress(enabled=False))
    identity = COMPRESSORS.get("identity")().compress(model, ctx)
    parameter_bytes = 4 * sum(p.numel() for p in model.parameters())
    assert identity.size_bytes == fp32_bytes(model) == parameter_bytes + buffer_bytes
    for name, params, least in (("quantize", {"bits": 8}, 0.95), ("innr-siren", {"epochs": 100}, 0.3)):
        rebuilt = COMPRESSORS.get(name)(**params).compress(model, ctx).reconstruct(model)
        for key, buffer in rebuilt.named_buffers():
            assert torch.equal(buffer, buffers[key])  # running statistics exact, never re-estimated
        agreement = (predict(rebuilt, data.test_x, batch_size=64, device=cpu) == clean).float().mean()
        assert float(agreement) > least, name


def test_cosine_schedule_enters_the_config_only_when_used() -> None:
    from innr_bench.models.train import TrainConfig

    assert "schedule" not in TrainConfig().to_dict()  # targets trained before it keep their keys
    assert TrainConfig(schedule="cosine").to_dict()["schedule"] == "cosine"


def test_cosine_schedule_decays_the_learning_rate_to_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    from innr_bench.data.datasets import synthetic
    from innr_bench.models.train import TrainConfig, train
    from innr_bench.progress import Progress
    from innr_bench.registry import MODELS

    rates: list[float] = []
    step = torch.optim.Adam.step

    def record(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        rates.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    train(MODELS.get("lenet-300-100")(), synthetic(n_train=64, n_test=8),
          TrainConfig(lr=1e-3, batch_size=16, epochs=5, schedule="cosine"), seed=0,
          device=torch.device("cpu"), progress=Progress(enabled=False))
    assert rates[0] == pytest.approx(1e-3) and len(rates) == 20
    assert rates == sorted(rates, reverse=True) and rates[-1] < 1e-5


@pytest.mark.parametrize(("name", "rgb", "grey"), [
    ("resnet20", 269_722, 269_434), ("resnet32", 464_154, 463_866), ("resnet56", 853_018, 852_730),
    ("resnet18", 11_173_962, 11_172_810)])
def test_resnets_have_their_published_sizes_and_take_grey_inputs(name: str, rgb: int, grey: int) -> None:
    """The CIFAR ResNets' counts (He et al.; ResNet-18: the CIFAR-style one, 3x3 stem, no pool)."""
    from innr_bench.registry import MODELS

    factory = MODELS.get(name)
    assert sum(p.numel() for p in factory().parameters()) == rgb
    grey_model = factory(in_channels=1).eval()
    assert sum(p.numel() for p in grey_model.parameters()) == grey
    with torch.no_grad():
        assert grey_model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_a_resnet_takes_one_or_three_input_channels_only() -> None:
    from innr_bench.config import parse_suite
    from innr_bench.errors import ConfigError

    with pytest.raises(ConfigError, match=r"targets\[0\]\.params\.in_channels: 2 is invalid"):
        parse_suite({"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}],
                     "targets": [{"name": "resnet56", "params": {"in_channels": 2}}],
                     "compressors": [{"name": "identity"}]})
