"""innr-bench: benchmark implicit neural network representations against compression baselines."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
