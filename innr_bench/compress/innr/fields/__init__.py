"""Neural fields an INNR can be built from (registered in FIELDS): importing this package
registers siren, fourier-mlp, gauss, wire, finer, hash-grid and nern."""

from __future__ import annotations

from innr_bench.compress.innr.fields import finer, fourier, gauss, hashgrid, nern, siren, wire
from innr_bench.compress.innr.fields.base import HeadField, build_field, has_head, size_knob
from innr_bench.compress.innr.fields.siren import Siren

__all__ = ["HeadField", "Siren", "build_field", "finer", "fourier", "gauss", "has_head", "hashgrid",
           "nern", "siren", "size_knob", "wire"]
