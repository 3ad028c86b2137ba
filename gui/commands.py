"""Undo commands: thin QUndoCommand wrappers over the document's pure patch operations."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtGui import QUndoCommand

from voicemend.gui.document import Document, Patch


class ApplyPatch(QUndoCommand):
    """Adding a repair; undo removes it again. ``changed`` lets views refresh."""

    def __init__(self, document: Document, patch: Patch, changed: Callable[[], None]) -> None:
        start_s, end_s = (v / document.sample_rate for v in patch.region)
        super().__init__(f"repair {start_s:.3f}-{end_s:.3f} s ({patch.method})")
        self.document, self.patch, self.changed = document, patch, changed

    def redo(self) -> None:
        self.document.add(self.patch)
        self.changed()

    def undo(self) -> None:
        self.document.remove(self.patch.id)
        self.changed()
