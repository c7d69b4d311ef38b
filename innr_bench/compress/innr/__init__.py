"""INNR compression: a neural field maps each weight's coordinate to its value. An INNR is built
from parts: a layout (weights -> queries), a field (FIELDS), fitting stages and storage."""

from __future__ import annotations

from innr_bench.compress.innr import compressor, distill, fields, layouts, stages
from innr_bench.compress.innr.coords import coordinates, standardize
from innr_bench.compress.innr.fields import Siren

__all__ = ["Siren", "compressor", "coordinates", "distill", "fields", "layouts", "stages", "standardize"]
