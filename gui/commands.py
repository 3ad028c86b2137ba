"""Undo commands: thin QUndoCommand wrappers over the document's pure patch operations."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtGui import QUndoCommand

from voicemend.gui.document import Document, Patch

Changed = Callable[[int, int], None]  # frames [start, end) of the edited audio changed


class ApplyPatch(QUndoCommand):
    """Adding a repair; undo removes it again. ``changed`` lets views refresh that range."""

    def __init__(self, document: Document, patch: Patch, changed: Changed) -> None:
        start_s, end_s = (v / document.sample_rate for v in patch.region)
        super().__init__(f"{patch.method} repair {start_s:.3f}-{end_s:.3f} s")
        self.document, self.patch, self.changed = document, patch, changed

    def redo(self) -> None:
        self.document.add(self.patch)
        self.changed(self.patch.start, self.patch.end)

    def undo(self) -> None:
        self.document.remove(self.patch.id)
        self.changed(self.patch.start, self.patch.end)
