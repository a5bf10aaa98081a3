"""The ``skfkd`` command line (also ``python -m skfkd``).

``skfkd train | evaluate | predict | export | demo``; ``skfkd COMMAND --help`` for each.
Exit status: 0 on success, 1 when the work fails, 2 for bad arguments or input files,
3 when a photo holds no face that could be found, 130 when interrupted (Ctrl-C).

The package keeps argument parsing (``_parser``) apart from the work behind each command
(``_commands``), the files it reads (``_inputs``) and what it writes (``_outputs``).
"""

from skfkd.cli._main import main

__all__ = ["main"]
