"""``voicemend-editor [FILE] [--screenshot PNG]``: start the desktop editor."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ICON = Path(__file__).parent / "icons" / "voicemend.svg"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voicemend-editor", description="voicemend's desktop editor for repairing speech"
    )
    parser.add_argument("file", nargs="?", type=Path, help="audio file or .voicemend project")
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="save a picture of the window once it is up, then quit (checks an installation)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from voicemend.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("voicemend")
    app.setDesktopFileName("voicemend")
    from PyQt6.QtGui import QIcon

    app.setWindowIcon(QIcon(str(ICON)))
    window = MainWindow()
    window.show()
    if args.file is not None:
        window.open_file(args.file)
    if args.screenshot is not None:

        def shoot() -> None:
            window.undo_stack.setClean()
            ok = window.grab().save(str(args.screenshot))
            print(f"{'saved' if ok else 'could not save'} {args.screenshot}")
            app.exit(0 if ok else 1)

        QTimer.singleShot(2000, shoot)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
