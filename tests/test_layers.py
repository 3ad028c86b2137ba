"""Dependencies point one way (gui -> plugin -> engine), and packaging lists every package."""

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_pyproject_lists_every_package_folder():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]) if rel.parts else package)
    assert found == listed
