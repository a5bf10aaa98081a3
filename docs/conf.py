"""Sphinx configuration of the skfkd documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going -E -b html docs docs/_build/html``).
Nothing here needs the network: no intersphinx inventories are fetched, and the examples
are shown, not run (tests/test_examples.py runs them).
"""

import ast
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the source tree, installed or not

import skfkd  # noqa: E402

project = "skfkd"
author = "the skfkd developers"
copyright = "the skfkd developers"  # noqa: A001 (Sphinx's name)
version = skfkd.__version__
release = skfkd.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
nitpicky = False

# API reference: one page per public object, written by autosummary into generated/ from
# _templates/autosummary (classes list their own documented methods).
autosummary_generate = True
# Document only what skfkd itself documents: skorch's and torch's hooks that the regressor
# overrides without a docstring of its own stay out of the reference.
autodoc_inherit_docstrings = False
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_preserve_defaults = True  # show `ValidSplit(0.1, random_state=0)`, not an object repr
numpydoc_show_class_members = False  # the class template lists the methods itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# The site.
html_theme = "pydata_sphinx_theme"
html_title = f"skfkd {version}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": []}


# --------------------------------------------------------------------------- examples


def _example_page(script: Path) -> str:
    """An rST page for one example: its module docstring as text, then its code."""
    source = script.read_text(encoding="utf-8")
    module = ast.parse(source)
    docstring = ast.get_docstring(module) or ""
    first_code_line = module.body[0].end_lineno + 1 if docstring else 1
    title, _, body = docstring.partition("\n")
    title = title.strip().rstrip(".") or script.stem
    relative = script.relative_to(ROOT).as_posix()
    return "\n".join(
        [
            f".. _example_{script.stem}:",
            "",
            title,
            "=" * len(title),
            "",
            body.strip(),
            "",
            f"Run it from the repository root with ``python {relative}``; "
            f"``SKFKD_EXAMPLES_QUICK=1 python {relative}`` runs the quick version that the "
            "test suite runs.",
            "",
            f".. literalinclude:: ../../{relative}",
            "   :language: python",
            f"   :lines: {first_code_line}-",
            "",
        ]
    )


def _write_example_pages(app):
    """Write auto_examples/<name>.rst for every examples/*.py (rewritten only on change)."""
    out = DOCS / "auto_examples"
    out.mkdir(exist_ok=True)
    wanted = set()
    for script in sorted((ROOT / "examples").glob("*.py")):
        page = out / f"{script.stem}.rst"
        wanted.add(page.name)
        text = _example_page(script)
        if not page.exists() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()


def _write_expected_failures(app):
    """Write generated/expected_failures.rst: the public list of scikit-learn checks that
    skfkd's estimators are expected to fail (skfkd.utils.expected_failed_checks), as the
    test suite uses it."""
    from skfkd.baselines import HOGFeatures
    from skfkd.faces import FaceLandmarker
    from skfkd.neural import FacialKeypointRegressor
    from skfkd.utils import expected_failed_checks

    lines = []
    for estimator in (FacialKeypointRegressor(), HOGFeatures(), FaceLandmarker()):
        failures = expected_failed_checks(estimator)
        name = type(estimator).__name__
        lines += [name, "-" * len(name), "", f"{len(failures)} checks.", ""]
        lines += [".. list-table::", "   :header-rows: 1", "", "   * - check", "     - why"]
        for check, reason in sorted(failures.items()):
            # Plain text: a word's trailing underscore (fitted attributes) is no RST link.
            reason = re.sub(r"(?<=\w)_(?!\w)", r"\\_", reason)
            lines += [f"   * - ``{check}``", f"     - {reason}"]
        lines.append("")
    out = DOCS / "generated"
    out.mkdir(exist_ok=True)
    page = out / "expected_failures.rst"
    text = "\n".join(lines) + "\n"
    if not page.exists() or page.read_text(encoding="utf-8") != text:
        page.write_text(text, encoding="utf-8")


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out the ``set_{method}_request`` methods scikit-learn adds to every estimator.

    They are metadata routing plumbing, documented by scikit-learn, and their generated
    docstrings point at scikit-learn's own user guide.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _write_example_pages)
    app.connect("builder-inited", _write_expected_failures)
    app.connect("autodoc-skip-member", _skip_metadata_requests)
