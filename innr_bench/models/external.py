"""Targets built outside innr-bench's registry: `module:function` (your own builder),
`torchvision:<model>` and `timm:<model>`. Each is registered in MODELS under that name the first
time a suite names it, so plans, workers and records treat it like any built-in target.

torchvision's and timm's image models expect normalized inputs; innr-bench's targets take pixels
in [0, 1] (every attack works in pixel space), so their normalization runs inside the model, as
a forward pre-hook that leaves the state_dict's keys as the library writes them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from innr_bench.errors import ConfigError, MissingExtraError
from innr_bench.registry import MODELS

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
LIBRARIES = ("torchvision", "timm")


class NormalizeInputs:
    """A forward pre-hook: (x - mean) / std per channel, before the model's first layer."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0]
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
        return ((x - mean) / std, *args[1:])


def with_normalization(model: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> nn.Module:
    model.register_forward_pre_hook(NormalizeInputs(mean, std))
    return model


def ensure_registered(name: str, *, where: str, search: Path | None = None) -> None:
    """Register an external target name in MODELS (no-op for registered names)."""
    if name in MODELS or ":" not in name:
        return
    prefix, _, rest = name.partition(":")
    if prefix == "torchvision":
        MODELS.register(name, description=f"torchvision's {rest}, pixels in [0, 1] (normalized inside)")(
            _torchvision_builder(rest, where))
    elif prefix == "timm":
        MODELS.register(name, description=f"timm's {rest}, pixels in [0, 1] (normalized inside)")(
            _timm_builder(rest, where))
    else:
        builder = _import_builder(prefix, rest, where, search)
        MODELS.register(name)(builder)


def _import_builder(module: str, function: str, where: str, search: Path | None) -> Callable[..., nn.Module]:
    added = search is not None and str(search) not in sys.path
    if added:
        sys.path.insert(0, str(search))
    try:
        found = importlib.import_module(module)
    except ImportError as error:
        raise ConfigError(f"{where}: cannot import {module!r} for target {module}:{function} ({error}); put "
                          "the module beside the suite file, install it, or fix the name") from None
    finally:
        if added:
            sys.path.remove(str(search))
    builder = getattr(found, function, None)
    if not callable(builder):
        raise ConfigError(f"{where}: {module!r} has no function {function!r} to build the target")
    return builder


def _torchvision_builder(model_name: str, where: str) -> Callable[..., nn.Module]:
    import torchvision

    try:
        builder = torchvision.models.get_model_builder(model_name)
    except ValueError:
        known = torchvision.models.list_models()
        raise ConfigError(f"{where}: torchvision has no model {model_name!r}; e.g. "
                          f"{', '.join(known[:8])} ({len(known)} in all)") from None

    def build(*, num_classes: Annotated[int, Field(ge=2)] | None = None,
              mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> nn.Module:
        """torchvision's model, untrained; `weights` in the suite loads a checkpoint or a named one."""
        kwargs = {} if num_classes is None else {"num_classes": num_classes}
        return with_normalization(builder(weights=None, **kwargs), mean, std)

    return build


def _timm_builder(model_name: str, where: str) -> Callable[..., nn.Module]:
    try:
        import timm
    except ImportError:
        raise MissingExtraError(f"{where}: target timm:{model_name} needs timm: "
                                "pip install 'innr-bench[timm]'") from None
    if model_name not in timm.list_models():
        raise ConfigError(f"{where}: timm has no model {model_name!r} (timm.list_models() lists them)")

    def build(*, num_classes: Annotated[int, Field(ge=2)] | None = None, in_chans: int = 3,
              mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> nn.Module:
        """timm's model, untrained; `weights` in the suite loads a checkpoint or timm's pretrained one."""
        kwargs: dict[str, Any] = {"in_chans": in_chans}
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        return with_normalization(timm.create_model(model_name, pretrained=False, **kwargs), mean, std)

    return build


def is_weights_name(target: str, weights: str) -> bool:
    """Whether `weights` names a library's pretrained weights rather than a file: only for
    torchvision/timm targets, and only a bare name (no path separator, no file suffix)."""
    return (target.partition(":")[0] in LIBRARIES and "/" not in weights and "\\" not in weights
            and Path(weights).suffix.lower() not in (".pt", ".pth", ".bin", ".safetensors", ".ckpt"))


def download_named(target: str, weights: str, where: str) -> Path:
    """A library's named pretrained weights as a file in the innr-bench cache, downloaded once and
    verified by the library's own hash; offline, one error saying how to pass the file instead."""
    from innr_bench.errors import DataUnavailableError
    from innr_bench.paths import cache_dir

    library, _, model_name = target.partition(":")
    folder = cache_dir() / "pretrained" / library
    if library == "torchvision":
        import torchvision

        members = torchvision.models.get_model_weights(model_name).__members__
        if weights not in members:
            raise ConfigError(f"{where}: torchvision's {model_name} has no weights {weights!r}; use one of "
                              f"{', '.join(members)} or a file path")
        url = members[weights].url
        path = folder / Path(url).name
        if not path.is_file():
            try:  # torchvision's files carry a sha256 prefix in their name, checked here
                torch.hub.load_state_dict_from_url(url, model_dir=str(folder), check_hash=True,
                                                   progress=False)
            except Exception as error:  # urllib's errors differ by platform; all mean "not here"
                raise DataUnavailableError(
                    f"{where}: cannot download torchvision's {model_name} {weights} ({type(error).__name__}: "
                    f"{error}); offline, fetch {url} elsewhere and give the file: weights: PATH") from None
        return path
    if weights != "pretrained":
        raise ConfigError(f"{where}: timm's weights are named `pretrained` (or give a file path), "
                          f"not {weights!r}")
    path = folder / f"{model_name}.safetensors"
    if not path.is_file():
        import timm
        from safetensors.torch import save_file

        try:
            model = timm.create_model(model_name, pretrained=True)
        except Exception as error:  # the hub's errors differ; all mean "not here"
            raise DataUnavailableError(
                f"{where}: cannot download timm's pretrained {model_name} ({type(error).__name__}: {error}); "
                "offline, save its state_dict elsewhere and give the file: weights: PATH") from None
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path
