"""Components from outside the package: modules a suite or the command line names, and
installed packages that declare an `innr_bench.plugins` entry point.

A plugin is an importable module whose import registers components with the usual decorators
(`@COMPRESSORS.register("name")`, ...). Nothing else is asked of it."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from innr_bench.errors import ConfigError

if TYPE_CHECKING:
    from innr_bench.config import Suite

ENTRY_POINT_GROUP = "innr_bench.plugins"
_loaded_installed = False


def load_plugins(modules: Iterable[str], *, where: str, search: Path | None = None) -> None:
    """Import each module (registering its components); `search` (a suite's directory) is tried
    first, so a module beside the suite file needs no installing."""
    for module in modules:
        added = search is not None and str(search) not in sys.path
        if added:
            sys.path.insert(0, str(search))
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(f"{where}: cannot import plugin module {module!r} ({error}); install "
                              "it, put it beside the suite file, or fix the name") from None
        except Exception as error:  # a plugin's own bug: say whose
            raise ConfigError(f"{where}: plugin module {module!r} failed while importing: "
                              f"{type(error).__name__}: {error}") from error
        finally:
            if added:
                sys.path.remove(str(search))


def load_installed_plugins() -> list[str]:
    """Import every installed `innr_bench.plugins` entry point once; their names."""
    global _loaded_installed
    points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    if not _loaded_installed:
        _loaded_installed = True
        for point in points:
            try:
                point.load()
            except Exception as error:
                raise ConfigError(f"installed plugin {point.name!r} ({point.value}, entry point group "
                                  f"{ENTRY_POINT_GROUP}) failed to load: {type(error).__name__}: "
                                  f"{error}; fix or uninstall it") from error
    return [p.name for p in points]


def plugin_modules(suite: Suite) -> tuple[str, ...]:
    """Modules outside innr_bench that a remote worker must import for this suite: those that
    register its components, and those the suite names ("__main__" for a component defined in
    a script or by exec, which no other process can import; see `remote_modules`)."""
    from innr_bench.registry import ATTACKS, COMPRESSORS, DATASETS, FIELDS, LAYOUTS, MODELS, STAGES

    used = [(DATASETS, c.name) for c in suite.datasets] + [(MODELS, t.model.name) for t in suite.targets]
    used += [(COMPRESSORS, c.name) for c in suite.compressors] + [(ATTACKS, c.name) for c in suite.attacks]
    for spec in (c.spec for c in suite.compressors):  # an INNR's parts: its field, layout and stages
        parts = [(FIELDS, spec.get("field")), (LAYOUTS, spec.get("layout")),
                 *((STAGES, stage) for stage in spec.get("fit") or [])]
        used += [(registry, part["name"]) for registry, part in parts if isinstance(part, dict)]
    modules = {registry.entry(name).factory.__module__ or "__main__" for registry, name in used}
    return tuple(sorted(m for m in modules | set(suite.plugins) if not m.startswith("innr_bench")))


def remote_modules(modules: tuple[str, ...]) -> tuple[str, ...]:
    """`modules` when every one can be imported by another process; else a clear error."""
    if "__main__" in modules:
        raise ConfigError("a component of this suite is registered in __main__, which Ray workers "
                          "cannot import; move its decorated builder into an importable module")
    return modules
