"""argparse types shared by the subcommands: bad values end as a one-line usage error.

argparse turns a ``ValueError``/``ArgumentTypeError`` raised here into
``ci-tools X: error: argument --port: ...`` and exit code 2, instead of a
traceback from deep inside a server that tried to bind port 99999.
"""

import argparse
import os


def port(text):
    """A TCP port to listen on: 1-65535."""
    value = _int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port (1-65535)")
    return value


def port_or_zero(text):
    """A TCP port, or 0 for 'pick a free one'."""
    value = _int(text)
    if value == 0:
        return 0
    return port(text)


def existing_dir(text):
    """A directory that must already exist (the state of a running service)."""
    if not os.path.isdir(text):
        what = "is not a directory" if os.path.exists(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"{text} {what}")
    return text


def dir_to_create(text):
    """A directory a server may create; refused when it exists as something else."""
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory")
    return text


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
