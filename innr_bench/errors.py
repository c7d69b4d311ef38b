"""User-facing errors. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class InnrBenchError(Exception):
    """Base class of every error caused by user input, not by a bug."""


class ConfigError(InnrBenchError, ValueError):
    """A suite file (or CLI value) is malformed: names file, key, value and what is allowed."""


class UnknownComponentError(InnrBenchError, KeyError):
    """A registry lookup failed; the message lists what is available."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataUnavailableError(InnrBenchError, FileNotFoundError):
    """A dataset cannot be found locally or downloaded; the message says how to get it."""


class CorruptArtifactError(InnrBenchError, ValueError):
    """A cached tensor file, record or results directory cannot be read back."""


class MissingExtraError(InnrBenchError, ImportError):
    """An optional dependency is needed; the message names the pip extra to install."""
