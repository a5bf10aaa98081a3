"""The speed benchmark's quick run, as CI runs it: it completes and writes every row.

Only that it runs and what it reports are checked here; the figures themselves belong to
benchmarks/results/, never to a pass/fail test.
"""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.timeout(600)
def test_the_quick_speed_benchmark_writes_its_table(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "speed.py"), "--quick", "--results", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=590,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "speed_quick.md").read_text()
    for row in (
        "FacialKeypointRegressor, default, augmentation on [cpu]",
        "FacialKeypointRegressor, no augmentation [cpu]",
        "PCA + ridge",
        "ONNX Runtime (OnnxKeypointRegressor, 1 thread)",
    ):
        assert f"| {row} |" in report, row
    assert "- command: " in report and "- machine: " in report
