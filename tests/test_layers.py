"""Dependencies point one way (gui -> plugin -> engine), and packaging lists every package."""

import ast
import fnmatch
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("modules", "forbidden"),
    [
        (
            "voicemend.engine, voicemend.engine.detect, voicemend.plugin.cli, "
            "voicemend.plugin.demo, voicemend.plugin.jobs, voicemend.plugin.plots",
            ("PyQt6", "voicemend.gui"),
        ),
        (
            "voicemend.engine, voicemend.engine.detect, voicemend.engine.evaluation.detection",
            ("voicemend.plugin",),
        ),
    ],
)
def test_dependencies_point_one_way(modules, forbidden):
    code = (
        f"import sys, {modules}\n"
        f"bad = [m for m in sys.modules if m.startswith({forbidden!r})]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _setuptools_config() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folders(mapping: dict[str, str]) -> dict[str, Path]:
    """Every folder under the mapped ones with an importable dotted name -> its path."""
    found = {}
    for package, folder in mapping.items():
        base = ROOT / folder
        for d in [base, *[p for p in base.rglob("*") if p.is_dir()]]:
            rel = d.relative_to(base).parts
            if "__pycache__" in rel or not all(part.isidentifier() for part in rel):
                continue
            found[".".join([package, *rel])] = d
    return found


def _tracked(mapping: dict[str, str]) -> list[Path]:
    """Every file git tracks under the mapped folders (one ``git ls-files``)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *mapping.values()],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [ROOT / p for p in out.split("\0") if p]


def test_pyproject_lists_every_package_folder():
    """Code packages and importable-named data folders alike (setuptools warns of the latter):
    every importable-named folder that holds a tracked file."""
    config = _setuptools_config()
    name_of = {d: name for name, d in _folders(config["package-dir"]).items()}
    wanted = {name_of[f.parent] for f in _tracked(config["package-dir"]) if f.parent in name_of}
    assert wanted == set(config["packages"])


def test_package_data_covers_every_shipped_file():
    """Weights, presets, the demo clip and icons reach the wheel: each tracked non-Python file
    matches a package-data glob of the nearest listed package above it."""
    config = _setuptools_config()
    folders = _folders(config["package-dir"])
    listed = {name: folders[name] for name in config["packages"]}
    globs = config["package-data"]
    missing = []
    for f in _tracked(config["package-dir"]):
        if f.suffix == ".py":
            continue
        owner = max(
            (n for n, d in listed.items() if d in f.parents), key=lambda n: len(listed[n].parts)
        )
        rel = f.relative_to(listed[owner]).as_posix()
        if not any(
            fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs.get(owner, [])
        ):
            missing.append(f"{owner}: {rel}")
    assert not missing, missing


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """Third-party top-level names a module imports when loaded, and those it imports later
    (inside functions: optional extras, or needs of a single command)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    loaded = {id(n) for n in tree.body}
    now, later = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "voicemend":
                (now if id(node) in loaded else later).add(top)
    return now, later


def _requirement_name(spec: str) -> str:
    return canonicalize_name(Requirement(spec).name)


def _installed_with(spec: str) -> bool:
    """Whether a dependency's requirement is installed with it here (not only for an extra)."""
    marker = Requirement(spec).marker
    return marker is None or marker.evaluate({"extra": ""})


def test_every_import_is_a_declared_dependency():
    """`pip install voicemend` must give all a module needs to load: what a module imports when
    loaded comes from a declared dependency (not one that a test or bench extra happens to pull
    in: safetensors once came only with transformers); what it imports later, from a declared
    dependency, an extra, or what a declared dependency requires."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_requirement_name(s) for s in project["dependencies"]}
    extras = {
        _requirement_name(s) for specs in project["optional-dependencies"].values() for s in specs
    }
    pulled = {
        _requirement_name(r)
        for d in core
        for r in (importlib.metadata.requires(d) or [])
        if _installed_with(r)
    }
    providers = importlib.metadata.packages_distributions()
    missing = []
    config = _setuptools_config()
    for f in _tracked(config["package-dir"]):
        if f.suffix != ".py":
            continue
        now, later = _imports(f)
        for name, allowed in [(n, core) for n in now] + [
            (n, core | extras | pulled) for n in later
        ]:
            dists = {canonicalize_name(d) for d in providers.get(name, [name])}
            if not dists & allowed:
                missing.append(f"{f.relative_to(ROOT)}: {name} ({', '.join(sorted(dists))})")
    assert not missing, missing
