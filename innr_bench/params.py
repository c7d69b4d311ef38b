"""Validate a component's YAML parameters against its factory's keyword-only signature."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import pydantic
from pydantic import Field

from innr_bench.errors import ConfigError

# Option types every component's signature uses (pydantic checks them when a suite is parsed).
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Ratio = Annotated[float, Field(gt=0, le=1)]  # a share of the target's fp32 bytes


@functools.cache
def params_model(factory: Callable[..., Any], exclude: tuple[str, ...] = ()) -> type[pydantic.BaseModel]:
    """A pydantic model whose fields are the factory's keyword parameters, less `exclude`
    (those its caller supplies, e.g. a field's input and output sizes)."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    hints = typing.get_type_hints(target, include_extras=True)
    fields: dict[str, Any] = {}
    accepted = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for position, (name, parameter) in enumerate(inspect.signature(target).parameters.items()):
        # a user's builder (`module:function`) may take plain keyword arguments; `self` is not one
        if parameter.kind not in accepted or name in exclude or (position == 0 and name == "self"):
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints.get(name, Any), default)
    config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return pydantic.create_model(f"{factory.__name__}Params", __config__=config, **fields)


def validate_params(
    factory: Callable[..., Any], params: Mapping[str, Any], *, where: str, exclude: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Checked, defaulted parameters; raises ConfigError naming `where` and each bad key.
    `exclude`: keyword-only parameters the caller supplies, which `params` may not set."""
    given = sorted(set(params) & set(exclude))
    if given:
        raise ConfigError(f"{where}.{given[0]}: is set by innr-bench, not in the suite; remove it")
    model = params_model(factory, exclude)
    try:
        validated = model.model_validate(dict(params))
    except pydantic.ValidationError as error:
        raise ConfigError(format_validation_error(error, where=where)) from None
    return validated.model_dump()


def format_validation_error(error: pydantic.ValidationError, *, where: str) -> str:
    """One line per problem: where, key path, offending value and the rule it broke."""
    lines = []
    for problem in error.errors():
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"])
        path = path.removeprefix(".")
        key = f"{where}.{path}" if path else where
        rule = problem["msg"]
        if problem["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            rule = "unknown key"
        if problem["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            lines.append(f"{key}: {problem.get('input')!r} is invalid ({rule})")
    return "\n".join(lines)
