"""Write full MNIST (from the bundle innr-bench installs) and Fashion-MNIST (from its Debian
package) as IDX files under one directory, for a machine without those packages (the lent GPU
machine): `python benchmarks/write_idx.py .gpu`, then INNR_BENCH_DATA=.gpu there."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from innr_bench.data import mnist_files
from innr_bench.data.datasets import DEBIAN_FASHION_DIR

NAMES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
         "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}


def write_idx(path: Path, array: np.ndarray) -> None:
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main(root: Path) -> None:
    (root / "mnist").mkdir(parents=True, exist_ok=True)
    arrays = mnist_files.read_bundle(mnist_files.bundle_path())
    for key, name in NAMES.items():
        write_idx(root / "mnist" / name, arrays[key])
    (root / "fashion-mnist").mkdir(exist_ok=True)
    for file in DEBIAN_FASHION_DIR.glob("*-ubyte.gz"):
        shutil.copy(file, root / "fashion-mnist" / file.name)
    print(f"{root}: mnist and fashion-mnist IDX files")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".gpu"))
