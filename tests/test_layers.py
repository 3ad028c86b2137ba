"""Dependencies point one way (gui -> plugin -> engine), and packaging lists every package."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_engine_and_plugin_do_not_import_qt():
    code = (
        "import sys, voicemend.engine, voicemend.engine.detect, voicemend.plugin.cli, "
        "voicemend.plugin.demo, voicemend.plugin.jobs, voicemend.plugin.plots\n"
        "bad = [m for m in sys.modules if m.startswith(('PyQt6', 'voicemend.gui'))]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_engine_does_not_import_plugin():
    code = (
        "import sys, voicemend.engine, voicemend.engine.detect\n"
        "import voicemend.engine.evaluation.detection\n"
        "bad = [m for m in sys.modules if m.startswith('voicemend.plugin')]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pyproject_lists_every_package_folder():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]) if rel.parts else package)
    assert found == listed
