"""Utilities for working with skfkd beside scikit-learn's own tooling."""

from skfkd.utils._estimator_checks import expected_failed_checks

__all__ = ["expected_failed_checks"]
