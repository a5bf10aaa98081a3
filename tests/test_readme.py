"""The README's quick start must run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "the README has one Python quick start"
    assert len(blocks[0].strip().splitlines()) <= 10
    exec(compile(blocks[0], str(README), "exec"), {})
    errors = dict(re.findall(r"^(\w+): RMSE ([\d.]+) px$", capsys.readouterr().out, flags=re.M))
    assert set(errors) == {"Pipeline", "FacialKeypointRegressor"}
    assert all(0 < float(rmse) < 5 for rmse in errors.values())


def test_readme_set_up_is_two_make_commands():
    setup = README.read_text().split("## Set-up")[1].split("##")[0]
    commands = re.findall(r"```bash\n(.*?)```", setup, flags=re.S)[0].strip().splitlines()
    assert [line.split("#")[0].strip() for line in commands] == ["make demo", "make test"]
