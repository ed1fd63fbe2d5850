"""Errors of the notary package.

The admin CLI catches :class:`NotaryError` once and prints its message, so every
message must say what went wrong *and* what the operator should do about it.
"""


class NotaryError(Exception):
    """Base class of the notary's user-facing errors (message says what to do)."""

    exit_code = 1


class UsageError(NotaryError):
    """Bad command-line input or an unreadable input file."""

    exit_code = 2
