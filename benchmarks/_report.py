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


def plot_ced_panels(panels, out):
    """One CED plot per panel, side by side, into ``out`` (a PNG); nothing without matplotlib.

    ``panels`` maps a title to ``{label: (thresholds, fractions)}``, the curves of
    :func:`skfkd.metrics.ced_curve`.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    # One legend below all panels, a colour per label in every panel: inside the axes it
    # covered the low curves (PCA + ridge stays under 0.3 up to NME 0.08).
    labels = list(dict.fromkeys(label for curves in panels.values() for label in curves))
    colours = dict(zip(labels, plt.rcParams["axes.prop_cycle"].by_key()["color"] * len(labels)))
    columns = min(len(labels), 3)
    legend_rows = -(-len(labels) // columns)
    height = 4.5 + 0.25 * legend_rows
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), height), squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        for label, (thresholds, fractions) in curves.items():
            ax.plot(thresholds, fractions, label=label, color=colours[label])
        ax.set(title=title, xlabel="NME", ylabel="fraction of faces", ylim=(0, 1))
    handles = [plt.Line2D([], [], color=colours[label]) for label in labels]
    figure.legend(handles, labels, loc="lower center", ncol=columns, fontsize=9, frameon=False)
    figure.tight_layout(rect=(0, 0.25 * legend_rows / height + 0.02, 1, 1))
    figure.savefig(out, dpi=100)
    plt.close(figure)
