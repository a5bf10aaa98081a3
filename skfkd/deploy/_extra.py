"""The optional packages of the ``deploy`` extra, imported when first needed."""

from __future__ import annotations

import importlib


def require(module):
    """Import ``module``, or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"skfkd.deploy needs {module.split('.')[0]} ({error}); install it with `pip install skfkd[deploy]`"
        ) from None
