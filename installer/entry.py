"""Entry point of the desktop bundle: one program under two names.

``voicemend`` is the command line and ``voicemend-editor`` the desktop editor; both executables
are built from this script and tell which they are from their own name.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def main() -> int:
    multiprocessing.freeze_support()  # `voicemend render --workers N` spawns worker processes
    program = os.path.basename(sys.argv[0]).lower()
    if program.startswith("voicemend-editor"):
        from voicemend.gui.app import main as editor

        return editor(sys.argv[1:])
    from voicemend.plugin.cli import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
