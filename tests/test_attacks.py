from __future__ import annotations

import builtins
from typing import Any

import pytest
import torch

from innr_bench.attacks.fgsm import FGSM
from innr_bench.attacks.pgd import PGD
from innr_bench.config import parse_suite
from innr_bench.data.datasets import synthetic
from innr_bench.engine.evaluate import predict
from innr_bench.errors import ConfigError, MissingExtraError
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.models.train import TrainConfig, train
from innr_bench.progress import Progress
from innr_bench.registry import ATTACKS

CPU = torch.device("cpu")
BASE = {"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}], "targets": [{"name": "seed-cnn"}],
        "compressors": [{"name": "identity"}]}


@pytest.fixture(scope="module")
def trained() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    data = synthetic(n_train=512, n_test=128)
    model = seed_cnn(c=4)
    train(model, data, TrainConfig(lr=0.01, batch_size=64, epochs=10), seed=0, device=CPU,
          progress=Progress(enabled=False))
    return model.eval(), data.test_x, data.test_y


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(model, x, batch_size=64, device=CPU) == y).float().mean())


ATTACK_SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("fgsm", {}),
    ("pgd", {"steps": 5}),
    ("pgd", {"steps": 5, "target": "random"}),
    ("pgd", {"steps": 5, "target": "least-likely", "random_start": False}),
    ("torchattacks", {"attack": "MIFGSM", "params": {"steps": 3, "alpha": 0.04}}),
    ("torchattacks", {"attack": "BIM", "params": {"steps": 3, "alpha": 0.04}, "target": "random"}),
]


@pytest.mark.parametrize(("name", "params"), ATTACK_SETTINGS, ids=[f"{n}{p}" for n, p in ATTACK_SETTINGS])
def test_eps_zero_leaves_accuracy_unchanged_and_eps_bounds_hold(name: str, params: dict, trained) -> None:
    if name == "torchattacks":
        pytest.importorskip("torchattacks")
    model, x, y = trained
    attack = ATTACKS.get(name)(eps=[0.0, 0.1], **params)
    results = dict(attack.perturb(model, x, y))
    assert _accuracy(model, results[0.0], y) == _accuracy(model, x, y)
    adv = results[0.1]
    assert (adv - x).abs().max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert _accuracy(model, adv, y) < _accuracy(model, x, y)


def test_one_step_pgd_without_random_start_is_fgsm(trained) -> None:
    model, x, y = trained
    (_, pgd_adv), = PGD(eps=[0.05], steps=1, step_size=0.05, random_start=False).perturb(model, x, y)
    (_, fgsm_adv), = FGSM(eps=[0.05]).perturb(model, x, y)
    assert torch.allclose(pgd_adv, fgsm_adv, atol=1e-6)


def test_pgd_is_at_least_as_strong_as_fgsm(trained) -> None:
    model, x, y = trained
    (_, pgd_adv), = PGD(eps=[0.1], steps=10).perturb(model, x, y)
    (_, fgsm_adv), = FGSM(eps=[0.1]).perturb(model, x, y)
    assert _accuracy(model, pgd_adv, y) <= _accuracy(model, fgsm_adv, y)


def test_pgd_matches_torchattacks_pgd(trained) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = trained
    reference = torchattacks.PGD(model, eps=0.05, alpha=0.01, steps=7, random_start=False)(x, y)
    (_, ours), = PGD(eps=[0.05], steps=7, step_size=0.01, random_start=False).perturb(model, x, y)
    assert torch.allclose(ours, reference, atol=1e-6)


def test_targeted_pgd_reaches_its_targets_and_targets_do_not_depend_on_the_source(trained) -> None:
    model, x, y = trained
    attack = PGD(eps=[0.3], steps=20, target="random")
    (_, adv), = attack.perturb(model, x, y)
    generator = torch.Generator().manual_seed(0)
    from innr_bench.attacks.pgd import target_classes

    targets = target_classes(model, x, y, "random", generator)
    assert targets is not None and bool((targets != y).all())
    hit = predict(model, adv, batch_size=64, device=CPU) == targets
    assert float(hit.float().mean()) > 0.5
    other = seed_cnn(c=4).eval()  # another source net: same random targets for the same batch
    assert torch.equal(target_classes(other, x, y, "random", torch.Generator().manual_seed(0)), targets)


def test_unknown_torchattacks_class_and_bad_params_are_config_errors() -> None:
    pytest.importorskip("torchattacks")
    with pytest.raises(ConfigError, match=r"attacks\[0\]\.params\.attack: 'MIFSGM' is not a torchattacks "
                                          r"attack; did you mean 'MIFGSM'"):
        parse_suite(BASE | {"attacks": [{"name": "torchattacks", "params": {"attack": "MIFSGM"}}]})
    with pytest.raises(ConfigError, match=r"\['stpes'\] not accepted by torchattacks\.PGD"):
        parse_suite(BASE | {"attacks": [{"name": "torchattacks",
                                         "params": {"attack": "PGD", "params": {"stpes": 3}}}]})
    with pytest.raises(ConfigError, match="takes no eps"):
        parse_suite(BASE | {"attacks": [{"name": "torchattacks", "params": {"attack": "DeepFool"}}]})
    with pytest.raises(ConfigError, match=r"attacks\[0\]\.params\.steps: 0 is invalid"):
        parse_suite(BASE | {"attacks": [{"name": "pgd", "params": {"steps": 0}}]})
    with pytest.raises(ConfigError, match=r"attacks\[0\]\.params\.target: 'most-likely' is invalid"):
        parse_suite(BASE | {"attacks": [{"name": "pgd", "params": {"target": "most-likely"}}]})


def test_without_the_extra_a_torchattacks_suite_says_how_to_install_it(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_torchattacks(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torchattacks":
            raise ImportError("No module named 'torchattacks'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchattacks)
    hint = r"<suite>: attacks\[0\]: .*pip install 'innr-bench\[attacks\]'"
    with pytest.raises(MissingExtraError, match=hint):
        parse_suite(BASE | {"attacks": [{"name": "torchattacks", "params": {"attack": "MIFGSM"}}]})
