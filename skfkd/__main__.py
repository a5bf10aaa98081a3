"""``python -m skfkd`` runs the command line."""

import sys

from skfkd.cli import main

if __name__ == "__main__":
    sys.exit(main())
