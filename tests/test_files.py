"""Your own data: `tensors` files and `image-folder` directories, and every way they can be
malformed as one clear error (exit code 2 from the command line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.numpy import save_file

from innr_bench.cli import main
from innr_bench.data.files import image_folder, tensors
from innr_bench.errors import InnrBenchError

RNG = np.random.default_rng(0)


def _arrays(**changes: Any) -> dict[str, Any]:
    arrays = {"x_train": RNG.random((20, 1, 8, 8), dtype=np.float32), "y_train": RNG.integers(0, 3, 20),
              "x_test": RNG.random((10, 1, 8, 8), dtype=np.float32), "y_test": RNG.integers(0, 3, 10)}
    arrays |= changes
    return {k: v for k, v in arrays.items() if v is not None}


def test_a_tensors_file_is_a_dataset_with_a_hash_of_what_was_read(tmp_path: Path) -> None:
    arrays = _arrays()
    np.savez(tmp_path / "d.npz", **arrays)
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp_path / "d.safetensors"))
    a, b = tensors(path=str(tmp_path / "d.npz")), tensors(path=str(tmp_path / "d.safetensors"))
    assert torch.equal(a.train_x, torch.from_numpy(arrays["x_train"])) and a.num_classes == 3
    assert a.sha256 == b.sha256 and a.source.startswith("tensors:")
    arrays["x_test"][0, 0, 0, 0] = 0.5 if arrays["x_test"][0, 0, 0, 0] != 0.5 else 0.25
    np.savez(tmp_path / "e.npz", **arrays)
    assert tensors(path=str(tmp_path / "e.npz")).sha256 != a.sha256


def test_uint8_pixels_are_read_as_fractions(tmp_path: Path) -> None:
    np.savez(tmp_path / "u.npz", **_arrays(x_train=np.full((4, 8, 8), 255, np.uint8),
                                           y_train=np.zeros(4, np.int64)))
    assert float(tensors(path=str(tmp_path / "u.npz")).train_x.max()) == 1.0


BAD = {
    "missing key": (_arrays(y_test=None), r"lacks y_test"),
    "wrong image shape": (_arrays(x_train=RNG.random((20, 64), dtype=np.float32)),
                          r"x_train has shape \(20, 64\)"),
    "counts differ": (_arrays(y_train=RNG.integers(0, 3, 19)), r"x_train has 20 examples, y_train 19"),
    "splits differ in shape": (_arrays(x_test=RNG.random((10, 1, 9, 9), dtype=np.float32)),
                               r"train images are \(1, 8, 8\), test images \(1, 9, 9\)"),
    "values outside [0, 1]": (_arrays(x_train=RNG.random((20, 1, 8, 8), dtype=np.float32) * 2 - 1),
                              r"x_train has values in \[-\S+, \S+\]; pixels must lie in \[0, 1\]"),
    "labels out of range": (_arrays(y_test=-RNG.integers(1, 3, 10)),
                            r"y_test has label -\d; labels are class"),
    "float labels": (_arrays(y_train=RNG.random(20)), r"y_train is float64 .* one integer class index"),
    "empty split": (_arrays(x_test=np.zeros((0, 1, 8, 8), np.float32), y_test=np.zeros(0, np.int64)),
                    r"x_test is empty"),
}


@pytest.mark.parametrize("case", BAD)
def test_malformed_tensors_are_one_clear_error(case: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    arrays, message = BAD[case]
    np.savez(tmp_path / "bad.npz", **arrays)
    data = {"name": "tensors", "params": {"path": str(tmp_path / "bad.npz")}}
    doc = {"name": "own-data", "seeds": [0], "datasets": [data],
           "targets": [{"name": "seed-cnn", "params": {"c": 2}}], "compressors": [{"name": "identity"}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "datasets[0]" in err and __import__("re").search(message, err), err


def test_an_unreadable_tensors_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InnrBenchError, match=r"cut\.npz: not a readable \.npz file"):
        tensors(path=str(tmp_path / "cut.npz"))
    with pytest.raises(InnrBenchError, match=r"not found"):
        tensors(path=str(tmp_path / "absent.safetensors"))


def _images(root: Path, split: str, classes: dict[str, int], size: int = 12) -> None:
    for name, count in classes.items():
        (root / split / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = (RNG.random((size, size, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / split / name / f"{i}.png")


def test_an_image_folder_is_resized_and_labelled_by_its_class_folders(tmp_path: Path) -> None:
    _images(tmp_path, "train", {"cat": 3, "dog": 2})
    _images(tmp_path, "test", {"cat": 1, "dog": 2}, size=20)
    data = image_folder(root=str(tmp_path), image_size=8)
    assert data.train_x.shape == (5, 3, 8, 8) and data.test_x.shape == (3, 3, 8, 8)
    assert data.train_y.tolist() == [0, 0, 0, 1, 1] and data.num_classes == 2
    assert image_folder(root=str(tmp_path), image_size=8, channels=1).train_x.shape == (5, 1, 8, 8)


@pytest.mark.parametrize(("make", "message"), [
    (lambda r: (_images(r, "train", {"a": 1, "b": 1}), _images(r, "test", {"a": 1, "c": 1})),
     r"name different classes \(b, c in one only\)"),
    (lambda r: (_images(r, "train", {"a": 1}), (r / "test" / "a").mkdir(parents=True)), r"test: no images"),
    (lambda r: _images(r, "train", {"a": 1}), r"test is not a directory"),
    (lambda r: (_images(r, "train", {"a": 1}), _images(r, "test", {"a": 1}),
                (r / "test" / "a" / "0.png").write_bytes(b"not a png")), r"0\.png: not a readable image"),
])
def test_a_malformed_image_folder_is_one_clear_error(tmp_path: Path, make: Any, message: str) -> None:
    make(tmp_path)
    with pytest.raises(InnrBenchError, match=message):
        image_folder(root=str(tmp_path), image_size=8)


def test_cifar_and_svhn_arrays_come_out_as_images_and_labels() -> None:
    """torchvision's layouts (CIFAR: N x H x W x C and `targets`; SVHN: N x C x H x W and
    `labels`), as the loader converts them; the download itself is never made in tests."""
    from types import SimpleNamespace

    from innr_bench.data.datasets import torchvision_arrays

    cifar = SimpleNamespace(data=np.zeros((4, 32, 32, 3), np.uint8), targets=[0, 1, 2, 3])
    svhn = SimpleNamespace(data=np.zeros((2, 3, 32, 32), np.uint8), labels=np.array([5, 6]))
    arrays = torchvision_arrays(cifar, svhn)
    assert arrays["train_x"].shape == (4, 32, 32, 3) and arrays["test_x"].shape == (2, 32, 32, 3)
    assert arrays["test_y"].tolist() == [5, 6]


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn"])
def test_torchvision_data_sets_offline_say_what_to_do(name: str, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    from innr_bench.errors import DataUnavailableError
    from innr_bench.registry import DATASETS

    monkeypatch.setenv("INNR_BENCH_CACHE", str(tmp_path))
    with pytest.raises(DataUnavailableError, match=rf"dataset '{name}': torchvision could not load"):
        DATASETS.get(name)(download=False)
