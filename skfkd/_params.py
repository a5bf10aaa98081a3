"""Parameter constraints, the scikit-learn way, for every skfkd estimator.

Each estimator declares ``_parameter_constraints`` (a dict from parameter name to the
list of accepted kinds) and calls ``self._validate_params()`` where the parameters are
used: in ``fit`` and, for the ones that a model file can carry, in ``predict``. The
constraint language is scikit-learn's own (``Interval``, ``StrOptions``, ...), so skfkd's
errors read like scikit-learn's; it lives in a private sklearn module, imported here only.
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = [
    "HasMethods",
    "Hidden",
    "Integral",
    "Interval",
    "InvalidParameterError",
    "Options",
    "Real",
    "StrOptions",
    "check_params",
    "non_negative_int",
    "positive_int",
]

positive_int = Interval(Integral, 1, None, closed="left")
non_negative_int = Interval(Integral, 0, None, closed="left")


def check_params(constraints, params, owner):
    """Raise :class:`InvalidParameterError` (a ValueError) naming the first parameter of
    ``params`` that breaks its entry in ``constraints``; names without an entry pass."""
    validate_parameter_constraints(constraints, params, caller_name=owner)
