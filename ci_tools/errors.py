"""Exceptions that carry the exit code and a message a user can act on."""


class CIToolsError(Exception):
    """Base error: ``ci-tools`` prints ``message`` and exits with ``exit_code``."""

    exit_code = 1

    def __init__(self, message, exit_code=None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self):
        return self.message


class UsageError(CIToolsError):
    """The command line or an input file is wrong; fixing it is on the user."""

    exit_code = 2


class ConfigError(CIToolsError):
    """A config file is invalid; the message names the file and the key."""

    exit_code = 3


class ServiceError(CIToolsError):
    """A service of the harness failed to start, answer or stop."""

    exit_code = 4
