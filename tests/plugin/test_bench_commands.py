import shutil
import subprocess

import pytest

from voicemend.plugin.bench_commands import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _commit(cwd, *paths) -> str:
    """Commit ``paths``; the new commit's short name."""
    _git(cwd, "add", *paths)
    _git(cwd, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True
    ).stdout.strip()


def test_a_result_names_its_commit_and_says_when_the_code_differed_from_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert git_commit() == "unknown"  # not a checkout
    _git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    head = _commit(tmp_path, "code.py")
    assert git_commit() == head
    (tmp_path / "notes.txt").write_text("untracked files do not count\n")
    assert git_commit() == head
    results = tmp_path / "bench" / "results" / "a"
    results.mkdir(parents=True)
    (results / "r.json").write_text("{}\n")
    head = _commit(tmp_path, "bench")
    (results / "r.json").write_text('{"rerun": true}\n')  # an earlier bench of a series
    assert git_commit() == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit() == f"{head}-dirty"
