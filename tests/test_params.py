"""A component's YAML parameters are checked against its factory's signature: defaults filled,
types enforced, unknown and caller-supplied keys refused, each problem on one line with its path."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field

from innr_bench.errors import ConfigError
from innr_bench.params import validate_params


def factory(*, width: Annotated[int, Field(gt=0)] = 64, eps: list[float] = [0.1],  # noqa: B006
            dim_in: int = 1) -> None:
    """A field-like factory: dim_in is what innr-bench supplies."""


def test_defaults_are_filled_and_types_checked() -> None:
    assert validate_params(factory, {"width": 8}, where="x") == {"width": 8, "eps": [0.1], "dim_in": 1}
    assert validate_params(factory, {}, where="x", exclude=("dim_in",)) == {"width": 64, "eps": [0.1]}


@pytest.mark.parametrize(("params", "message"), [
    ({"widht": 8}, "compressors[2].params.widht: 8 is invalid (unknown key)"),
    ({"width": 0}, "compressors[2].params.width: 0 is invalid (Input should be greater than 0)"),
    ({"eps": [0.1, "big"]}, "compressors[2].params.eps[1]: 'big' is invalid"),
    ({"dim_in": 3}, "compressors[2].params.dim_in: is set by innr-bench, not in the suite; remove it"),
])
def test_each_bad_key_is_named_with_its_path(params: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        validate_params(factory, params, where="compressors[2].params", exclude=("dim_in",))
    assert str(raised.value).startswith(message)


def test_every_problem_gets_its_own_line() -> None:
    with pytest.raises(ConfigError) as raised:
        validate_params(factory, {"width": -1, "nope": 1}, where="p")
    assert len(str(raised.value).splitlines()) == 2
