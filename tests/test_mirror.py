"""Tests mirror the modules (docs/engine.md): each module of the package has a test module of
its name, or is listed here with the test modules where its behaviour shows. A new module
without either fails this test; so does a listed test module that no longer exists."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# module (path under innr_bench/) -> the test modules that exercise it, and how
WHERE = {
    "api.py": ["test_own_network.py"],  # the API and the CLI on the same checkpoint
    "attacks/base.py": ["test_attacks.py"],  # the protocol every attack there meets
    "attacks/external.py": ["test_attacks.py", "test_stacked.py"],  # torchattacks, alone and stacked
    "attacks/pgd.py": ["test_attacks.py", "test_stacked.py"],
    "components.py": ["test_registry.py", "test_conformance.py"],  # every built-in registered and checked
    "compress/base.py": ["test_compress.py", "test_sizes.py"],
    "compress/bitpack.py": ["test_quantize.py"],
    "compress/finetune.py": ["test_prune.py", "test_quantize.py"],  # prune-then-retrain, QAT
    "compress/huffman.py": ["test_deep_compression.py", "test_storage.py"],
    "compress/identity.py": ["test_compress.py"],
    "compress/innr/compressor.py": ["test_compress.py", "test_budget.py", "test_spec.py"],
    "compress/innr/fields/base.py": ["test_conformance.py", "test_plugin_parts.py"],
    "compress/innr/fields/finer.py": ["test_conformance.py"],  # check_field on every registered field
    "compress/innr/fields/fourier.py": ["test_conformance.py"],
    "compress/innr/fields/gauss.py": ["test_conformance.py", "test_spec.py"],
    "compress/innr/fields/hashgrid.py": ["test_conformance.py"],
    "compress/innr/fields/nern.py": ["test_conformance.py", "test_layouts.py"],
    "compress/innr/fields/siren.py": ["test_conformance.py", "test_models.py"],
    "compress/innr/fields/wire.py": ["test_conformance.py"],
    "compress/innr/loop.py": ["test_spec.py", "test_compress.py"],  # schedules; every INNR fit
    "compress/innr/rows.py": ["test_layouts.py"],
    "compress/innr/stages.py": ["test_spec.py", "test_plugin_parts.py", "test_distill.py"],
    "compress/innr/state.py": ["test_plugin_parts.py"],  # what a stage of one's own reads
    "compress/innr/together.py": ["test_fit_together.py"],
    "compress/kmeans.py": ["test_quantize.py"],
    "compress/nnc_codec.py": ["test_nnc.py"],
    "compress/serialize.py": ["test_conformance.py", "test_sizes.py"],
    "compress/sparse.py": ["test_prune.py"],
    "data/mnist_files.py": ["test_datasets.py"],  # checksums through every source
    "engine/cells.py": ["test_worker.py", "test_runner.py", "test_inheritance.py"],
    "engine/context.py": ["test_worker.py"],
    "engine/copies.py": ["test_worker.py", "test_fit_together.py", "test_resolve_once.py"],
    "engine/executors/base.py": ["test_executors.py"],
    "engine/executors/local.py": ["test_executors.py", "test_runner.py"],
    "engine/keys.py": ["test_store.py", "test_plan.py"],
    "engine/results.py": ["test_worker.py", "test_runner.py"],
    "engine/targets.py": ["test_worker.py", "test_checkpoint.py", "test_crash_safety.py"],
    "errors.py": ["test_cli.py", "test_config.py"],  # every user error's message and exit code
    "models/external.py": ["test_checkpoint.py"],  # torchvision: and timm: targets
    "models/lenet.py": ["test_models.py"],
    "models/placement.py": ["test_layers.py", "test_memory.py"],
    "models/resnet.py": ["test_models.py", "test_partition.py"],
    "models/seed_cnn.py": ["test_models.py", "test_seed_reproduction.py"],
    "models/train.py": ["test_models.py", "test_deep_compression.py"],
    "reporting/plots.py": ["test_inheritance.py", "test_site.py"],
    "reporting/verdict.py": ["test_reproduce.py", "test_comparison.py"],
}


def modules() -> list[str]:
    package = ROOT / "innr_bench"
    return sorted(str(p.relative_to(package)) for p in package.rglob("*.py") if p.name != "__init__.py")


def test_every_module_has_its_test_module_or_says_where_it_is_tested() -> None:
    missing = [m for m in modules() if not (ROOT / "tests" / f"test_{Path(m).stem}.py").exists()
               and m not in WHERE]
    assert missing == []


def test_the_listed_places_exist_and_list_only_modules_without_their_own() -> None:
    known = set(modules())
    assert set(WHERE) <= known  # no entry for a module that is gone
    assert [m for m in WHERE if (ROOT / "tests" / f"test_{Path(m).stem}.py").exists()] == []
    assert [t for tests in WHERE.values() for t in tests if not (ROOT / "tests" / t).exists()] == []
