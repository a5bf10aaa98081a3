"""Run a command: parse, dispatch, and turn failures into one line and an exit status."""

from __future__ import annotations

import sys

from skfkd.cli._inputs import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, BadInput
from skfkd.cli._parser import parse


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    status : int
        0 on success, 1 when the work fails, 2 for bad arguments or input files, 3 when a
        photo holds no face that could be found, 130 when interrupted.

    Examples
    --------
    >>> from skfkd.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    skfkd 0.1.0.dev0
    """
    try:
        args = parse(argv)
        return args.handler(args)
    except (BadInput, FileNotFoundError, IsADirectoryError, NotADirectoryError, ValueError) as error:
        print(f"skfkd: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("skfkd: error: out of memory: the input is too large for this machine", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("skfkd: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 (one line for a person, not a traceback)
        print(f"skfkd: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILURE
