"""Every example runs (on reduced settings), so none can rot."""

import os
import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script, monkeypatch, capsys, tmp_path):
    if "SKFKD_DATA" in script.read_text() and not os.environ.get("SKFKD_DATA"):
        # CI sets SKFKD_DATA, so these examples run there.
        pytest.skip(f"{script.name} reads the real photos: set SKFKD_DATA to run it")
    monkeypatch.setenv("SKFKD_EXAMPLES_QUICK", "1")
    monkeypatch.chdir(tmp_path)  # examples write their figures to the current folder
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{script.name} printed nothing"


def test_examples_are_found():
    assert len(EXAMPLES) >= 2
