"""The Export dialog: where, which format and sample type, and whether the effects chain runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

SUBTYPES = {
    "WAV": ["PCM_16", "PCM_24", "PCM_32", "FLOAT"],
    "FLAC": ["PCM_16", "PCM_24"],
}


@dataclass(frozen=True)
class ExportChoice:
    path: Path
    subtype: str
    through_chain: bool


class ExportDialog(QDialog):
    def __init__(
        self, suggested: Path, source_subtype: str, chain_stages: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.path_edit = QLineEdit(str(suggested))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.subtype = QComboBox()
        self.chain = QCheckBox(f"render through the effects chain ({chain_stages} stage(s))")
        self.chain.setEnabled(chain_stages > 0)
        self.path_edit.textChanged.connect(lambda _t: self._fill_subtypes(source_subtype))
        self._fill_subtypes(source_subtype)
        form = QFormLayout(self)
        form.addRow("file", row)
        form.addRow("samples", self.subtype)
        form.addRow("", self.chain)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> ExportChoice:
        return ExportChoice(
            Path(self.path_edit.text()), self.subtype.currentText(), self.chain.isChecked()
        )

    def _fill_subtypes(self, source_subtype: str) -> None:
        fmt = "FLAC" if self.path_edit.text().lower().endswith(".flac") else "WAV"
        current = self.subtype.currentText() or source_subtype
        self.subtype.clear()
        self.subtype.addItems(SUBTYPES[fmt])
        if current in SUBTYPES[fmt]:
            self.subtype.setCurrentText(current)
        else:
            self.subtype.setCurrentText("PCM_24")

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export to", self.path_edit.text(), "WAV (*.wav);;FLAC (*.flac)"
        )
        if path:
            self.path_edit.setText(path)
