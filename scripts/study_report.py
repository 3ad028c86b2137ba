"""What the detection studies in scripts/ share: their command line, and their results folder
(JSON rows with the command, commit and date; a Markdown table)."""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Sequence
from pathlib import Path

from voicemend.engine.io import write_text_atomic
from voicemend.plugin.bench_commands import git_commit


def study_args(doc: str, files: int, out: str) -> argparse.Namespace:
    """``--split``, ``--files`` and ``--out``, with the script's defaults."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--files", type=int, default=files)
    parser.add_argument("--out", type=Path, default=Path(out))
    return parser.parse_args()


def write_study(
    args: argparse.Namespace,
    script: str,
    stem: str,
    rows: list[dict[str, object]],
    title: str,
    table: Sequence[str],
) -> None:
    """``args.out/stem.json`` (the rows and how they were made) and ``results.md`` (``title``,
    the command, and ``table``'s lines)."""
    meta = {
        "command": f"python scripts/{script} --split {args.split} --files {args.files} "
        f"--out {args.out}",
        "git_commit": git_commit(),
        "date": datetime.date.today().isoformat(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    write_text_atomic(args.out / f"{stem}.json", text, overwrite=True)
    lines = [f"# {title}", "", f"`{meta['command']}` at {meta['git_commit']}, {meta['date']}", ""]
    write_text_atomic(args.out / "results.md", "\n".join([*lines, *table]) + "\n", overwrite=True)
