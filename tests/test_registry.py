from __future__ import annotations

import pytest

from innr_bench import components  # noqa: F401
from innr_bench.errors import UnknownComponentError
from innr_bench.registry import ATTACKS, COMPRESSORS, DATASETS, MODELS, Registry


class TestRegistry:
    def test_register_get_and_alias(self) -> None:
        reg: Registry = Registry("widget")

        @reg.register("alpha", aliases=("a",))
        def alpha() -> int:
            """Makes an alpha."""
            return 1

        assert reg.get("alpha") is alpha
        assert reg.get("a") is alpha
        assert reg.entry("alpha").description == "Makes an alpha."
        assert "a" in reg and len(reg) == 1

    def test_duplicate_is_an_error(self) -> None:
        reg: Registry = Registry("widget")
        reg.register("alpha")(lambda: 1)
        with pytest.raises(ValueError, match="widget 'alpha' is already registered"):
            reg.register("alpha")(lambda: 2)

    def test_unknown_name_suggests_close_match(self) -> None:
        with pytest.raises(UnknownComponentError, match=r"unknown compressor 'inr-siren'\. Did you mean "
                           r"'innr-siren'\? Available: deep-compression, identity, innr, innr-siren"):
            COMPRESSORS.get("inr-siren")

    def test_names_filter_with_wildcards(self) -> None:
        assert MODELS.names("seed*") == ["seed-cnn"]
        assert "fashion-mnist" in DATASETS.names("*mnist")

    def test_builtins_are_registered_with_descriptions(self) -> None:
        for registry in (DATASETS, MODELS, COMPRESSORS, ATTACKS):
            assert len(registry) > 0
            assert all(entry.description for entry in registry.entries())
