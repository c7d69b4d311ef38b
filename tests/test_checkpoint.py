"""Every way a checkpoint can be unusable is one clear error naming the file, exit code 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import save_file
from torch import nn

from innr_bench.cli import main
from innr_bench.registry import MODELS

BUILDER = '''
from torch import nn


def build(*, width: int = 4) -> nn.Module:
    """conv with bias, batch norm, linear: a user's own net."""
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.BatchNorm2d(width), nn.ReLU(), nn.Flatten(),
                         nn.Linear(width * 26 * 26, 10))
'''


class Opaque:
    """A Python object in a pickle: what weights_only=True refuses to load."""

    def __init__(self) -> None:
        self.value = 1


def _net(width: int = 4) -> nn.Module:
    namespace: dict[str, Any] = {}
    exec(BUILDER, namespace)
    return namespace["build"](width=width)


def _run(tmp_path: Path, weights: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
         **target: Any) -> tuple[int, str]:
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.delitem(__import__("sys").modules, "user_net", raising=False)
    (tmp_path / "user_net.py").write_text(BUILDER)
    data = {"name": "synthetic", "params": {"n_train": 64, "n_test": 32}}
    doc = {"name": "ckpt", "seeds": [0], "datasets": [data],
           "targets": [{"name": "user_net:build", "weights": weights, **target}],
           "compressors": [{"name": "identity"}]}
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(doc))
    code = main(["run", str(suite), "--out", str(tmp_path / "out"), "--no-progress", "--device", "cpu",
                 "--reference", "none"])
    return code, capsys.readouterr().err


def _write(tmp_path: Path, name: str, state: dict[str, torch.Tensor]) -> str:
    path = tmp_path / name
    if name.endswith(".safetensors"):
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return name


CASES = {
    "missing": (lambda d: "absent.safetensors", r"weights file .*absent\.safetensors not found"),
    "truncated safetensors": (
        lambda d: (d / "cut.safetensors").write_bytes((d / _write(d, "ok.safetensors", _net().state_dict()))
                                                     .read_bytes()[:100]) and "cut.safetensors",
        r"cut\.safetensors: not a readable safetensors file .* truncated"),
    "corrupt state_dict": (lambda d: (d / "bad.pt").write_bytes(b"not a zip at all") and "bad.pt",
                           r"bad\.pt: not a readable PyTorch checkpoint"),
    "pickle weights_only refuses": (lambda d: torch.save({"net": Opaque()}, d / "obj.pt") or "obj.pt",
                                    r"obj\.pt: torch\.load\(weights_only=True\) refuses it"),
    "missing keys": (lambda d: _write(d, "few.safetensors", dict(list(_net().state_dict().items())[:2])),
                     r"does not fit the target's builder: missing '1\.bias', '1\.num_batches_tracked'"),
    "unexpected keys": (lambda d: _write(d, "more.pt", {**_net().state_dict(), "extra.weight": torch.ones(1)}
                                         ),
                        r"does not fit the target's builder: unexpected 'extra\.weight'"),
    "wrong shape": (lambda d: _write(d, "wide.safetensors", _net(width=6).state_dict()),
                    r"tensor '0\.weight' has shape \(6, 1, 3, 3\), the builder's has \(4, 1, 3, 3\)"),
    "unusable dtype": (lambda d: _write(d, "ints.pt", {k: v.to(torch.int32) if v.is_floating_point() else v
                                                       for k, v in _net().state_dict().items()}),
                       r"tensor '0\.weight' is torch\.int32, which cannot stand for the builder's "
                       r"torch\.float32"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_checkpoint_is_one_clear_error(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    make, message = CASES[case]
    code, err = _run(tmp_path, make(tmp_path), monkeypatch, capsys)
    assert code == 2, err
    (line,) = [line for line in err.splitlines() if line.startswith("innr-bench: error:")]
    assert __import__("re").search(message, line), line


def test_weights_and_train_together_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    name = _write(tmp_path, "ok.safetensors", _net().state_dict())
    code, err = _run(tmp_path, name, monkeypatch, capsys, train={"epochs": 2})
    assert code == 2 and "targets[0].train: a target loaded from weights is not trained here" in err


def test_an_unknown_builder_module_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    doc = {"name": "x", "seeds": [0], "datasets": [{"name": "synthetic"}],
           "targets": [{"name": "no_such_module:build", "weights": "w.pt"}],
           "compressors": [{"name": "identity"}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(doc))
    assert main(["run", str(tmp_path / "suite.yaml"), "--out", str(tmp_path), "--no-progress"]) == 2
    assert "targets[0].name: cannot import 'no_such_module'" in capsys.readouterr().err


def test_torchvision_builds_a_model_and_loads_a_file_the_test_wrote(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Named architectures come from torchvision; their weights from your file (never a download)."""
    import torchvision

    from innr_bench.config import parse_suite
    from innr_bench.engine.runner import Runner

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    torch.manual_seed(0)
    reference = torchvision.models.get_model("squeezenet1_1", weights=None, num_classes=10)
    save_file(reference.state_dict(), str(tmp_path / "sq.safetensors"))
    doc = {"name": "tv", "seeds": [0],
           "datasets": [{"name": "synthetic",
                         "params": {"n_train": 16, "n_test": 16, "channels": 3, "size": 64}}],
           "targets": [{"name": "torchvision:squeezenet1_1", "params": {"num_classes": 10},
                        "weights": str(tmp_path / "sq.safetensors")}],
           "compressors": [{"name": "identity"}, {"name": "quantize", "params": {"bits": 8}}]}
    summary = Runner(parse_suite(doc), out_dir=tmp_path, device="cpu").run()
    assert summary.failed == [] and summary.computed == 2


def test_named_weights_offline_say_how_to_pass_the_file(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from innr_bench.config import parse_suite
    from innr_bench.errors import DataUnavailableError

    def offline(*args: Any, **kwargs: Any) -> None:
        raise OSError("network unreachable")

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.setenv("INNR_BENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    doc = {"name": "tv", "seeds": [0], "datasets": [{"name": "synthetic"}],
           "targets": [{"name": "torchvision:resnet18", "weights": "IMAGENET1K_V1"}],
           "compressors": [{"name": "identity"}]}
    offline_error = (r"cannot download torchvision's resnet18 IMAGENET1K_V1 .* offline, "
                     r"fetch https://\S+resnet18-f37072fd\.pth elsewhere")
    with pytest.raises(DataUnavailableError, match=offline_error):
        parse_suite(doc)
    with pytest.raises(Exception, match=r"has no weights 'IMAGENET9K'; use one of IMAGENET1K_V1, DEFAULT"):
        parse_suite(doc | {"targets": [{"name": "torchvision:resnet18", "weights": "IMAGENET9K"}]})


def test_a_timm_target_without_timm_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from innr_bench.config import parse_suite
    from innr_bench.errors import MissingExtraError

    real_import = builtins.__import__

    def no_timm(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "timm":
            raise ImportError("No module named 'timm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.setattr(builtins, "__import__", no_timm)
    doc = {"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}],
           "targets": [{"name": "timm:resnet18", "weights": str(tmp_path / "r.safetensors")}],
           "compressors": [{"name": "identity"}]}
    needs = r"timm:resnet18 needs timm: pip install 'innr-bench\[timm\]'"
    with pytest.raises(MissingExtraError, match=needs):
        parse_suite(doc)


def test_timm_builds_a_model_and_loads_a_file_the_test_wrote(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Where timm is installed (the `[timm]` extra): its architecture, your weights file."""
    timm = pytest.importorskip("timm")
    from innr_bench.config import parse_suite
    from innr_bench.engine.runner import Runner

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    torch.manual_seed(0)
    reference = timm.create_model("resnet10t", pretrained=False, num_classes=10)
    save_file(reference.state_dict(), str(tmp_path / "r.safetensors"))
    doc = {"name": "timm", "seeds": [0],
           "datasets": [{"name": "synthetic",
                         "params": {"n_train": 16, "n_test": 16, "channels": 3, "size": 32}}],
           "targets": [{"name": "timm:resnet10t", "params": {"num_classes": 10},
                        "weights": str(tmp_path / "r.safetensors")}],
           "compressors": [{"name": "identity"}]}
    summary = Runner(parse_suite(doc), out_dir=tmp_path, device="cpu").run()
    assert summary.failed == [] and summary.computed == 1


def _checkpoint_suite(root: Path, weights: str) -> Path:
    (root / "user_net.py").write_text(BUILDER)
    data = {"name": "synthetic", "params": {"n_train": 64, "n_test": 32}}
    doc = {"name": "ckpt", "seeds": [0], "datasets": [data],
           "targets": [{"name": "user_net:build", "weights": weights}],
           "compressors": [{"name": "identity"}, {"name": "quantize", "params": {"bits": 4}}]}
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("case", CASES)
def test_a_bad_checkpoint_leaves_the_results_dir_as_it_was(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    report_text: Any,
) -> None:
    """A failed run (exit 2) changes nothing: the manifest byte for byte, and every leaderboard
    `report` writes (it once replaced the manifest's suite and cells with the failing suite's)."""
    import sys

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.delitem(sys.modules, "user_net", raising=False)
    monkeypatch.setenv("INNR_BENCH_CACHE", str(tmp_path / "cache"))
    good = _write(tmp_path, "good.safetensors", _net().state_dict())
    assert _cli_run(_checkpoint_suite(tmp_path, good), tmp_path / "out") == 0
    results = tmp_path / "out" / "ckpt"
    before, manifest = report_text(results), (results / "manifest.json").read_bytes()

    make, message = CASES[case]
    assert _cli_run(_checkpoint_suite(tmp_path, make(tmp_path)), tmp_path / "out") == 2
    assert __import__("re").search(message, capsys.readouterr().err)
    assert (results / "manifest.json").read_bytes() == manifest  # not even a run appended
    assert report_text(results) == before


def _cli_run(suite: Path, out: Path) -> int:
    return main(["run", str(suite), "--out", str(out), "--no-progress", "--device", "cpu",
                 "--reference", "none"])
