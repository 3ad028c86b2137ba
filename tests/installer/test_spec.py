"""The PyInstaller spec leaves out only what the app never imports.

Building the bundle takes minutes, so this checks the spec's exclusions against what the CLI
and the editor load: torch 2.13 began importing ``torch.testing._internal`` on ``import torch``
while the spec excluded it, and the bundled CLI failed on start."""

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _excludes() -> list[str]:
    tree = ast.parse((ROOT / "installer" / "voicemend.spec").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "EXCLUDES" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError("the spec names no EXCLUDES")


def test_the_spec_excludes_nothing_the_app_loads():
    excludes = _excludes()
    assert "onnxruntime" in excludes  # the list was found and read
    code = (
        "import sys, voicemend.plugin.cli, voicemend.gui.main_window, "
        "voicemend.engine.inpaint.neural, voicemend.engine.container\n"
        "voicemend.engine.container._av()\n"
        "print('\\n'.join(sys.modules))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    hit = sorted(m for m in loaded for x in excludes if m == x or m.startswith(x + "."))
    assert not hit, f"the bundle would lack modules the app loads: {hit[:10]}"
