"""Importing this module registers every built-in dataset, model, compressor and attack."""

from __future__ import annotations

from innr_bench import attacks, compress, data, data_files, models

__all__ = ["attacks", "compress", "data", "data_files", "models"]
