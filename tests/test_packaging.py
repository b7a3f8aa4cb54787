"""``pip install .`` gives a working ``core``: pyproject ``dependencies`` cover everything core imports.

Third-party imports are found with ``ast`` in every file of ``core/`` and mapped to their distributions with
``importlib.metadata.packages_distributions()`` (``PIL`` -> pillow, ``skimage`` -> scikit-image...).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from core.training.encoders import VARIANTS
from tests.support.paths import REPO_ROOT

#: Distributions core loads by name rather than by an ``import`` statement, with where.
LOADED_BY_NAME = {
    "psycopg": "SQLAlchemy's postgresql+psycopg:// driver (core/votes/store.py, GZ_VOTES_DB)",
    VARIANTS["lite0"].package: "ImageNet weights of the default effnet_lite0 model (core/training/encoders.py)",
}


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def _pinned() -> dict[str, Requirement]:
    lines = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    reqs = [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]
    return {canonicalize_name(r.name): r for r in reqs}


def _third_party_imports() -> dict[str, str]:
    """Top-level name of every absolute non-stdlib, non-core import in core/ -> one file importing it."""
    found: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names} - set(sys.stdlib_module_names) - {"core"}:
                found.setdefault(top, str(path.relative_to(REPO_ROOT)))
    return found


def test_every_third_party_import_in_core_is_a_declared_dependency():
    declared = set(_declared())
    owners = packages_distributions()
    imports = _third_party_imports()
    assert {"torch", "sqlalchemy", "PIL"} <= set(imports)  # the scan sees the package's real imports
    missing = {top: where for top, where in imports.items()
               if not declared & {canonicalize_name(d) for d in owners.get(top, [top])}}
    assert missing == {}, f"imported by core but not in pyproject dependencies: {missing}"


def test_what_core_loads_by_name_is_declared():
    declared = set(_declared())
    owners = packages_distributions()
    for module, why in LOADED_BY_NAME.items():
        dists = {canonicalize_name(d) for d in owners.get(module, [module])}
        assert declared & dists, f"{module} ({why}) is missing from pyproject dependencies"


def test_pyproject_floors_and_requirements_pins_name_the_same_packages():
    """One list: requirements.txt pins exactly what pyproject declares, each pin at or above its floor."""
    declared, pinned = _declared(), _pinned()
    assert set(declared) == set(pinned)
    for name, floor in declared.items():
        pin = pinned[name]
        assert floor.extras == pin.extras, name
        (exact,) = [s for s in pin.specifier if s.operator == "=="]
        assert floor.specifier.contains(Version(exact.version)), f"{name}: pin {pin} is below floor {floor}"
