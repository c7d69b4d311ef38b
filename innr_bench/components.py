"""Importing this module registers every built-in dataset, model, compressor and attack."""

from __future__ import annotations

from innr_bench import attacks, compress, models
from innr_bench.data import datasets as data
from innr_bench.data import files as data_files

__all__ = ["attacks", "compress", "data", "data_files", "models"]
