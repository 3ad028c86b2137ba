"""The user-local install and uninstall scripts, the desktop entry, and the bundle's entry point."""

import configparser
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "installer" / "linux"


def _fake_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "dist" / "voicemend"
    (bundle / "_internal").mkdir(parents=True)
    for name in ("voicemend", "voicemend-editor"):
        exe = bundle / name
        exe.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        exe.chmod(0o755)
    return bundle


def _run(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    env.pop("XDG_DATA_HOME", None)
    env.pop("PREFIX", None)
    return subprocess.run(
        ["bash", str(LINUX / script), *args], env=env, capture_output=True, text=True
    )


def test_install_then_uninstall_leaves_nothing_behind(tmp_path):
    bundle = _fake_bundle(tmp_path)
    home = tmp_path / "home"
    local = home / ".local"
    (local / "bin").mkdir(parents=True)
    (local / "bin" / "other-tool").write_text("keep me")
    done = _run("install.sh", tmp_path, str(bundle))
    assert done.returncode == 0, done.stderr
    assert (local / "bin" / "voicemend").resolve() == local / "lib" / "voicemend" / "voicemend"
    out = subprocess.run([str(local / "bin" / "voicemend-editor"), "x"], capture_output=True)
    assert out.stdout.decode().strip() == "voicemend-editor x"
    desktop = local / "share" / "applications" / "voicemend.desktop"
    assert f"Exec={local}/bin/voicemend-editor %f" in desktop.read_text()
    assert (local / "share" / "icons" / "hicolor" / "scalable" / "apps" / "voicemend.svg").exists()
    assert (local / "share" / "mime" / "packages" / "voicemend-project.xml").exists()
    again = _run("install.sh", tmp_path, str(bundle))  # reinstalling replaces in place
    assert again.returncode == 0, again.stderr

    removed = _run("uninstall.sh", tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert not (local / "lib" / "voicemend").exists()
    assert not (local / "bin" / "voicemend").exists() and not desktop.exists()
    assert (local / "bin" / "other-tool").read_text() == "keep me"


def test_install_refuses_a_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _run("install.sh", tmp_path, str(tmp_path / "empty"))
    assert done.returncode != 0 and "does not look like a voicemend bundle" in done.stderr
    missing = _run("install.sh", tmp_path, str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "make dist" in missing.stderr


def test_uninstall_keeps_a_voicemend_that_is_not_ours(tmp_path):
    bin_dir = tmp_path / "home" / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "voicemend").write_text("#!/bin/sh\n# pip's entry point\n")
    assert _run("uninstall.sh", tmp_path).returncode == 0
    assert (bin_dir / "voicemend").exists()


def test_desktop_entry_icon_and_mime_files_are_well_formed():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(LINUX / "voicemend.desktop")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Exec"].startswith("voicemend-editor")
    mime = d["MimeType"].rstrip(";").split(";")
    assert {"audio/flac", "audio/x-wav", "audio/mpeg", "application/x-voicemend-project"} <= set(
        mime
    )
    svg = ET.parse(ROOT / "gui" / "icons" / "voicemend.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 256 256"
    glob = ET.parse(LINUX / "voicemend-project.xml").getroot().find(".//{*}glob")
    assert glob.get("pattern") == "*.voicemend"


@pytest.mark.parametrize(
    ("program", "expected"), [("voicemend", "podcast-dropout-repair"), ("voicemend-editor", "PNG")]
)
def test_one_entry_point_serves_both_programs_by_name(tmp_path, program, expected):
    entry = tmp_path / program  # no .py: a script named voicemend.py would shadow the package
    entry.symlink_to(ROOT / "installer" / "entry.py")
    args = ["presets"] if program == "voicemend" else ["--help"]
    done = subprocess.run([sys.executable, str(entry), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
