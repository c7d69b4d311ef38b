from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from innr_bench.config import load_suite, parse_suite
from innr_bench.engine.copies import build_compressor
from innr_bench.errors import ConfigError

VALID = {
    "name": "t",
    "seeds": [0],
    "datasets": [{"name": "synthetic"}],
    "targets": [{"name": "seed-cnn", "params": {"c": 2}, "train": {"epochs": 1}}],
    "compressors": [{"name": "identity"}, {"name": "innr-siren", "params": {"epochs": 2}}],
    "attacks": [{"name": "fgsm", "params": {"eps": [0.0, 0.1]}}],
}


def _with(**changes: object) -> dict:
    return {**VALID, **changes}


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    return path


class TestValidSuites:
    def test_defaults_are_filled_in(self) -> None:
        suite = parse_suite(VALID)
        assert suite.device == "auto"
        innr = suite.compressors[1]
        assert innr.params["recipe"] == "fast" and innr.params["epochs"] == 2
        assert innr.label == "innr-siren[epochs=2]"
        assert suite.attacks[0].params == {"eps": [0.0, 0.1], "clamp": True}

    def test_grid_expands_to_cartesian_product(self) -> None:
        compressors = [{"name": "innr-siren", "params": {"epochs": 2},
                        "grid": {"width": [8, 16, 32], "depth": [2, 3]}}]
        suite = parse_suite(_with(compressors=compressors))
        assert len(suite.compressors) == 6
        assert {(c.params["width"], c.params["depth"]) for c in suite.compressors} == {
            (w, d) for w in (8, 16, 32) for d in (2, 3)}

    def test_yaml_exponent_without_dot_is_accepted_as_float(self, tmp_path: Path) -> None:
        text = (
            "name: t\nseeds: [0]\ndatasets: [{name: synthetic}]\ncompressors: [{name: identity}]\n"
            "targets:\n  - name: seed-cnn\n    train: {lr: 5e-4}\n"
        )  # YAML 1.1 reads 5e-4 (no dot) as a string; it must still mean 0.0005
        suite = load_suite(_write(tmp_path, text))
        assert suite.targets[0].train.lr == 5e-4

    def test_a_target_without_train_gets_its_registered_default(self) -> None:
        suite = parse_suite(_with(targets=[{"name": "lenet5"}, {"name": "lenet-300-100",
                                                                "train": {"epochs": 2}}]))
        lenet5, mlp = (t.train for t in suite.targets)
        assert (lenet5.lr, lenet5.batch_size, lenet5.epochs) == (1e-3, 128, 10)
        assert (mlp.lr, mlp.batch_size, mlp.epochs) == (1e-3, 128, 2)  # one key overridden

    def test_one_label_may_serve_disjoint_targets(self) -> None:
        targets = [{"name": "seed-cnn", "params": {"c": c}} for c in (2, 4)]
        compressors = [{"name": "kmeans", "label": "km", "params": {"bits": b}, "targets": [t]}
                       for b, t in ((2, "seed-cnn[c=2]"), (3, "seed-cnn[c=4]"))]
        suite = parse_suite(_with(targets=targets, compressors=compressors))
        assert [(c.label, c.targets) for c in suite.compressors] == [("km", ("seed-cnn[c=2]",)),
                                                                     ("km", ("seed-cnn[c=4]",))]
        with pytest.raises(ConfigError, match=r"configurations \['km'\] appear more than once"):
            parse_suite(_with(targets=targets,
                              compressors=[compressors[0], {**compressors[1], "targets": None}]))

    def test_shipped_suites_load(self, repo_root: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
        import shutil

        import torch
        from safetensors.torch import save_file

        from innr_bench.registry import MODELS

        monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
        shutil.copytree(repo_root / "suites", tmp_path / "suites")
        # your-own-net.yaml loads a file its step 1 writes (`python suites/your_own_net.py`)
        monkeypatch.syspath_prepend(str(tmp_path / "suites"))
        import your_own_net

        torch.manual_seed(0)
        save_file(your_own_net.build().state_dict(), str(tmp_path / "suites" / "your-net.safetensors"))
        for path in sorted((tmp_path / "suites").glob("*.yaml")):
            assert load_suite(path).name == path.stem

    def test_mnist_datafree_reads_no_data(self, repo_root: Path) -> None:
        # the suite's board is one data-free front only if no compressor in it reads data
        suite = load_suite(repo_root / "suites" / "mnist-datafree.yaml")
        reading = [c.label for c in suite.compressors if not build_compressor(c).data_free]
        assert reading == []
        assert any(c.params.get("recipe") == "distill-impressions" for c in suite.compressors)


class TestConfigErrors:
    @pytest.mark.parametrize(("doc", "message"), [
        (_with(colour="red"), r"suite\.yaml: colour: 'red' is invalid \(unknown key\)"),
        (_with(seeds="zero"), r"suite\.yaml: seeds: 'zero' is invalid"),
        (_with(seeds=[]), r"suite\.yaml: seeds: \[\] is invalid"),
        (_with(device="tpu"),
         r"suite\.yaml: device: 'tpu' is invalid \(Input should be 'auto', 'cpu' or 'cuda'\)"),
        ({k: v for k, v in VALID.items() if k != "targets"},
         r"suite\.yaml: targets: required key is missing"),
        (_with(compressors=[{"name": "inr-siren"}]),
         r"compressors\[0\]\.name: unknown compressor 'inr-siren'\. Did you mean 'innr-siren'\?"),
        (_with(compressors=[{"name": "innr-siren", "params": {"width": -3}}]),
         r"compressors\[0\]\.params\.width: -3 is invalid \(Input should be greater than 0\)"),
        (_with(compressors=[{"name": "innr-siren", "params": {"widht": 3}}]),
         r"compressors\[0\]\.params\.widht: 3 is invalid \(unknown key\)"),
        (_with(compressors=[{"name": "innr-siren", "params": {"recipe": "best"}}]),
         r"compressors\[0\]\.params\.recipe: 'best' is not an INNR preset; available: distill, "
         r"distill-impressions, distill-noise, distill-quick, fast, fast-scalable, seed"),
        (_with(attacks=[{"name": "fgsm", "params": {"eps": [0.1, 2.0]}}]),
         r"attacks\[0\]\.params\.eps\[1\]: 2\.0 is invalid \(Input should be less than or equal to 1\)"),
        (_with(attacks=[{"name": "fgsm", "params": {"clamp": "sometimes"}}]),
         r"attacks\[0\]\.params\.clamp: 'sometimes' is invalid"),
        (_with(targets=[{"name": "seed-cnn", "train": {"batch_size": 0}}]),
         r"targets\[0\]\.train\.batch_size: 0 is invalid \(Input should be greater than 0\)"),
        (_with(targets=[{"name": "lenet5", "train": {"epoch": 3}}]),
         r"targets\[0\]\.train\.epoch: 3 is invalid \(unknown key\)"),
        (_with(compressors=[{"name": "innr-siren", "params": {"width": 8}, "grid": {"width": [8]}}]),
         r"compressors\[0\]: \['width'\] set in both params and grid"),
        (_with(compressors=[{"name": "identity"}, {"name": "identity"}]),
         r"compressors: configurations \['identity'\] appear more than once"),
        (_with(compressors=[{"name": "innr-siren", "grid": {"width": []}}]),
         r"compressors\[0\]\.grid\.width: \[\] is invalid"),
        ([1, 2], r"suite\.yaml: the top level must be a mapping"),
        (_with(compressors=[{"name": "identity", "targets": ["lenet5"]}]),
         r"compressors\[0\]\.targets: 'lenet5' is not a target label of this suite; "
         r"use one of \['seed-cnn\[c=2\]'\]"),
        (_with(references=[{"label": "p", "target": "lenet5", "method": "m", "accuracy": 99.0}]),
         r"references\[0\]\.target: 'lenet5' is not a target label of this suite"),
        (_with(references=[{"label": "p", "target": "seed-cnn[c=2]", "method": "m", "accuracy": 0.99e3}]),
         r"references\[0\]\.accuracy: 990\.0 is invalid \(Input should be less than or equal to 100\)"),
    ])
    def test_each_error_names_file_key_and_rule(self, tmp_path: Path, doc: object, message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            load_suite(_write(tmp_path, doc))

    def test_invalid_yaml_names_the_line(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match=r"suite\.yaml: invalid YAML at line \d+, column \d+"):
            load_suite(_write(tmp_path, "name: t\nseeds: [0\n"))

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="suite file not found"):
            load_suite(tmp_path / "nope.yaml")


def test_options_added_later_leave_earlier_cells_specs_alone() -> None:
    """Fine-tuning options of the baselines are unset (None) unless asked for, so they stay out of
    the resolved spec, and settings written before they existed keep their cell keys."""
    base = {"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}], "targets": [{"name": "seed-cnn"}]}
    suite = parse_suite(base | {"compressors": [
        {"name": "quantize", "params": {"bits": 4}}, {"name": "kmeans", "params": {"bits": 3}}]})
    assert [c.spec for c in suite.compressors] == [
        {"bits": 4, "granularity": "per-channel", "scheme": "symmetric"}, {"bits": 3}]
