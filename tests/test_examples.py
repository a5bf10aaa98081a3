"""Every example runs (on reduced settings), so none can rot."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script, monkeypatch, capsys):
    monkeypatch.setenv("SKFKD_EXAMPLES_QUICK", "1")
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{script.name} printed nothing"


def test_examples_are_found():
    assert len(EXAMPLES) >= 2
