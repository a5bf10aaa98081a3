"""What every benchmark writes beside its figures: machine, versions, date, command."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
from importlib.metadata import PackageNotFoundError, version


def environment_lines():
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    packages = ", ".join(
        f"{name} {_version(name)}"
        for name in ("skfkd", "torch", "skorch", "scikit-learn", "numpy", "scikit-image")
    )
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- command: `{' '.join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0]), *sys.argv[1:]])}`",
        f"- machine: {cpu}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}; GPU: {gpu}",
        f"- python {platform.python_version()}; {packages}",
    ]


def _version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return "(not installed: run from the source tree)"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines
