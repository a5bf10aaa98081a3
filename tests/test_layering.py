"""The package's floors (see DESIGN.md): each subpackage imports only from the floors below
it, never another subpackage's private modules, so that no import circle can form.

Every ``import`` of every module is read with ``ast``, at module level and inside
functions alike (a lazy import closes a circle just as well).
"""

import ast
from pathlib import Path

import pytest

import skfkd

ROOT = Path(skfkd.__file__).parent
FLOORS = {
    "_layout": 1,
    "_framing": 1,
    "_images": 1,
    "_params": 1,
    "utils": 1,
    "metrics": 2,
    "datasets": 2,
    "preprocessing": 2,
    "augmentation": 2,
    "neural": 3,
    "baselines": 3,
    "deploy": 4,
    "faces": 5,
    "plotting": 5,
    "cli": 6,
    "__main__": 7,  # python -m skfkd: runs the command line
}
# What the root package gives without importing anything above floor 1.
ROOT_NAMES = {"IBUG_68", "KAGGLE_15", "KeypointLayout", "to_keypoints", "to_targets", "__version__"}


def _part(module):
    """The floor name of ``skfkd.<part>...``, or None for the root package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "skfkd":
                    yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "skfkd":
            yield node.lineno, node.module, [alias.name for alias in node.names]


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "__init__.py":
            continue
        yield relative.parts[0].removesuffix(".py"), path


@pytest.mark.parametrize(("part", "path"), list(_modules()), ids=lambda value: str(value))
def test_imports_go_down_the_floors_and_never_into_another_subpackages_internals(part, path):
    assert part in FLOORS, f"{part} has no floor: add it to FLOORS and to DESIGN.md"
    problems = []
    for line, module, names in _imports(path):
        target = _part(module)
        where = f"{path.relative_to(ROOT.parent)}:{line} imports {module}"
        if target is None:
            extra = set(names) - ROOT_NAMES
            if extra:
                problems.append(f"{where} {sorted(extra)} (the root's lazy names import floors above)")
            continue
        if target == part:
            continue
        # The floor-1 utilities may use one another (Python itself refuses a circle there).
        if FLOORS[target] >= FLOORS[part] and not FLOORS[target] == FLOORS[part] == 1:
            problems.append(f"{where}: floor {FLOORS[target]} from floor {FLOORS[part]}")
        private = [piece for piece in module.split(".")[2:] if piece.startswith("_")]
        if FLOORS[target] > 1 and private:
            problems.append(f"{where}: another subpackage's private module")
    assert not problems, "\n".join(problems)
