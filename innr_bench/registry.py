"""One small generic name -> factory registry, instantiated once per component kind."""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from innr_bench.errors import UnknownComponentError

T = TypeVar("T", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered factory with its canonical name and one-line description."""

    name: str
    factory: T
    description: str
    aliases: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)  # e.g. a model's training recipe
    # What this factory computes, as a number: bump it when a change to the code makes the same
    # settings give other results. It enters every cache key the component takes part in.
    version: int = 1
    # What else a kind declares about its factories, e.g. a field's size knob (`size="width"`).
    traits: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Maps names (and aliases) to factories; duplicates are errors, misses suggest a match."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self, name: str, *, aliases: tuple[str, ...] = (), description: str | None = None,
        defaults: dict[str, Any] | None = None, version: int = 1, **traits: Any,
    ) -> Callable[[T], T]:
        """Decorator: `@MODELS.register("seed-cnn")` registers the decorated factory; `defaults`
        holds settings a suite may leave out (for models: `{"train": {...}}`); `version` is the
        factory's own (bump it when its results change); `traits` what the kind asks of its
        entries (for fields: `size="width"`, the option a byte budget searches over)."""
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"{self.kind} {name!r}: version must be an integer >= 1, got {version!r}")

        def decorator(factory: T) -> T:
            for key in (name, *aliases):
                if key in self._entries or key in self._aliases:
                    raise ValueError(f"{self.kind} {key!r} is already registered")
            doc = description or _first_line(inspect.getdoc(factory))
            self._entries[name] = Entry(name, factory, doc, tuple(aliases), dict(defaults or {}),
                                        version, dict(traits))
            self._aliases.update({alias: name for alias in aliases})
            hook = getattr(factory, "registered_as", None)  # e.g. a compressor learns its name
            if callable(hook):
                hook(name)
            return factory

        return decorator

    def unregister(self, name: str) -> None:
        """Remove `name` and its aliases, if registered (for factories made at run time, such as
        the Python API's targets, which a later call may replace)."""
        entry = self._entries.pop(name, None)
        for alias in entry.aliases if entry else ():
            self._aliases.pop(alias, None)

    def entry(self, name: str) -> Entry[T]:
        """The entry for `name` or an alias; raises UnknownComponentError naming what exists."""
        canonical = self._aliases.get(name, name)
        if canonical in self._entries:
            return self._entries[canonical]
        known = sorted([*self._entries, *self._aliases])
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownComponentError(
            f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}"
        )

    def get(self, name: str) -> T:
        """The factory registered as `name`."""
        return self.entry(name).factory

    def names(self, pattern: str = "*") -> list[str]:
        """Canonical names matching a shell-style wildcard, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def entries(self) -> list[Entry[T]]:
        """All entries, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __len__(self) -> int:
        return len(self._entries)


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0] if doc else ""


DATASETS: Registry[Callable[..., Any]] = Registry("dataset")
MODELS: Registry[Callable[..., Any]] = Registry("model")
COMPRESSORS: Registry[Callable[..., Any]] = Registry("compressor")
ATTACKS: Registry[Callable[..., Any]] = Registry("attack")
# The parts an INNR is built from (compress/innr): neural fields, weight layouts, fitting stages.
FIELDS: Registry[Callable[..., Any]] = Registry("field")
LAYOUTS: Registry[Callable[..., Any]] = Registry("layout")
STAGES: Registry[Callable[..., Any]] = Registry("stage")
# Every registry, by the plural a suite writer lists them under (`innr-bench list`, the docs).
REGISTRIES: dict[str, Registry[Callable[..., Any]]] = {
    "datasets": DATASETS, "models": MODELS, "compressors": COMPRESSORS, "attacks": ATTACKS,
    "fields": FIELDS, "layouts": LAYOUTS, "stages": STAGES}
