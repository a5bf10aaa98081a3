"""Where datasets live on disk, and the checks every loader shares."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["get_data_home"]

DATA_HOME_ENV = "SKFKD_DATA"


def get_data_home(data_home=None) -> Path:
    """Return the folder that holds skfkd's datasets.

    skfkd never downloads anything: loaders read files that you place in this folder
    (or pass a path to them directly).

    Parameters
    ----------
    data_home : str or path-like, default=None
        An explicit folder. When None, the ``SKFKD_DATA`` environment variable is used,
        and ``~/skfkd_data`` when that is unset.

    Returns
    -------
    data_home : pathlib.Path
        The folder; it is not created and need not exist.

    Examples
    --------
    >>> from skfkd.datasets import get_data_home
    >>> str(get_data_home("/tmp/faces"))
    '/tmp/faces'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or Path.home() / "skfkd_data"
    return Path(data_home).expanduser()


def _missing_file_error(path, what, hint) -> FileNotFoundError:
    """A FileNotFoundError that says which file is missing and where it belongs."""
    return FileNotFoundError(
        f"{what} not found at {path}. skfkd downloads nothing: {hint} "
        f"(the default folder is {DATA_HOME_ENV} or ~/skfkd_data, see skfkd.datasets.get_data_home)."
    )
