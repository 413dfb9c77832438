"""Errors the CLI turns into one line on stderr and a documented exit code."""

from __future__ import annotations

# Exit codes scripts can rely on (also listed in `moewh --help`).
EXIT_FINDINGS = 1  # the command ran, and found problems (overlaps, failed runs in a batch)
EXIT_BAD_INPUT = 2  # bad input file, bad arguments, bad SQL
EXIT_DATABASE = 3  # database locked, missing, written by a newer version; or a broken installation


class WarehouseError(Exception):
    exit_code = EXIT_BAD_INPUT


class InputError(WarehouseError):
    """A file that cannot be read as what it claims to be. Says what and where."""

    def __init__(self, path, message: str, offset: int | None = None, record: int | None = None):
        self.path = str(path)
        self.offset = offset
        self.record = record
        where = self.path
        if record is not None:
            where += f", record {record}"
        if offset is not None:
            where += f", byte offset {offset}"
        super().__init__(f"{where}: {message}")


class UsageError(WarehouseError):
    exit_code = EXIT_BAD_INPUT


class DatabaseError(WarehouseError):
    exit_code = EXIT_DATABASE


class DatabaseLocked(DatabaseError):
    """Another writer holds the database past the lock timeout."""


class InstallError(WarehouseError):
    """A file this installation ships (under sql/) is malformed: not the user's input, not the database."""

    exit_code = EXIT_DATABASE

