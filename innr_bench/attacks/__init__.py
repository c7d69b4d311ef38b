"""Adversarial attacks (registered in ATTACKS). All work on pixels in [0, 1], eps in pixel units."""

from __future__ import annotations

from innr_bench.attacks import external, fgsm, pgd
from innr_bench.attacks.base import Attack

__all__ = ["Attack", "external", "fgsm", "pgd"]
