"""Errors the library raises on bad input or broken state (imports nothing of ours)."""


class SmallragError(Exception):
    """Base error: its message names the offending value and the fix."""


class IndexFormatError(SmallragError):
    """An index folder is missing, corrupt, truncated, foreign or of a newer format."""


class ModelMismatchError(SmallragError):
    """Documents would be embedded with a different model than the index's."""


class UnsafeOutputError(SmallragError):
    """An output path that holds something smallrag must not replace (a user's folder or file).
    The CLI exits 2 on it: it is a usage error, and nothing was written."""


class LockTimeoutError(SmallragError):
    """Another process kept writing the same index for longer than the caller would wait."""
