"""INNR compression: a SIREN maps each weight's coordinate to its value."""

from __future__ import annotations

from innr_bench.compress.innr import compressor
from innr_bench.compress.innr.coords import coordinates, standardize
from innr_bench.compress.innr.siren import Siren

__all__ = ["Siren", "compressor", "coordinates", "standardize"]
