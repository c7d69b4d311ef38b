"""Data sets, a component family like models, compressors and attacks: the registered loaders
(datasets: MNIST, Fashion-MNIST, CIFAR, SVHN, synthetic), your own files (files: tensors,
image folders) and the MNIST IDX reader with its checksums (mnist_files)."""

from innr_bench.data.datasets import Dataset, fashion_mnist, mnist, synthetic

__all__ = ["Dataset", "fashion_mnist", "mnist", "synthetic"]
