"""Content keys: what every cache entry, record and cell is named by."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_key(obj: Any) -> str:
    """Stable 16-hex-digit sha256 of an object's canonical JSON."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
