"""The one error family a user can cause.

Everything a user can trigger (a damaged file, an unsupported input, a refused overwrite, a missing
model) raises a subclass of :class:`NcodecError`. The command line turns it into one line on stderr
and exit code 1; anything else escaping is a bug.
"""

from __future__ import annotations


class NcodecError(Exception):
    """Base class for every error ncodec reports to users."""


class FormatError(NcodecError):
    """A container or bitstream is malformed, truncated, corrupted or of an unknown version."""


class LimitError(FormatError):
    """A declared size exceeds a safety limit, refused before anything is allocated."""


class ModelMismatchError(NcodecError):
    """A file names a model, or a weights hash, that this installation does not have."""


class InputError(NcodecError):
    """Input media cannot be read or is not supported (format, size, channels, bit depth)."""


class UsageError(NcodecError):
    """The caller asked for something inconsistent (bad quality, refused overwrite, ...)."""


class OutputError(NcodecError):
    """An output could not be written (disk full, no permission, a file-size limit).

    Raised only after the partial output has been removed; ``reason`` is the system's word for
    it, so an outer writer can report the same reason under the name the user asked for.
    """

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"cannot write '{target}': {reason}")
        self.target, self.reason = target, reason
