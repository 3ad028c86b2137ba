"""``voicemend-editor [FILE]``: start the desktop editor."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from PyQt6.QtWidgets import QApplication

    from voicemend.gui.main_window import MainWindow

    args = list(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow()
    window.show()
    if args:
        window.open_file(args[0])
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
