"""The effects chain panel: stages of a JSON chain preset, edited in place.

The panel's state is the preset itself (a list of stage descriptions), so what the user builds is
exactly what ``voicemend render --preset`` runs. Every edit is validated by building the stage;
a bad value is refused with a message and the previous value stays.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voicemend.engine.errors import VoicemendError
from voicemend.engine.io import write_text_atomic
from voicemend.plugin.chain import Chain
from voicemend.plugin.presets import (
    BUILTINS,
    FORMAT,
    FORMAT_VERSION,
    PresetError,
    build_stage,
    chain_from_preset,
    shipped_presets,
    stage_to_spec,
)
from voicemend.plugin.processors import PROCESSORS

PRESET_FILTER = "Chain presets (*.json);;All files (*)"


def stage_types() -> list[str]:
    """voicemend stages first, then pedalboard's built-in effects."""
    return [*PROCESSORS, *sorted(BUILTINS)]


def default_spec(type_name: str) -> dict[str, Any]:
    """A stage description with the plugin's own default parameters."""
    return stage_to_spec(build_stage({"type": type_name}, 0))


def parse_value(text: str) -> Any:
    """Numbers, booleans, lists and quoted strings as JSON; anything else as plain text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class ChainPanel(QWidget):
    previewRequested = pyqtSignal()
    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stages: list[dict[str, Any]] = []
        self.name = "untitled"
        self.description = ""
        self.tail_s = 0.0
        self.last_error = ""
        self.stage_list = QListWidget()
        self.type_box = QComboBox()
        self.type_box.addItems(stage_types())
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.params = QTableWidget(0, 2)
        self.params.setHorizontalHeaderLabels(["parameter", "value"])
        self.params.horizontalHeader().setStretchLastSection(True)
        self.preset_box = QComboBox()
        self.preset_box.addItems(["(shipped presets)", *shipped_presets()])
        self.load_button = QPushButton("Load…")
        self.save_button = QPushButton("Save…")
        self.preview_button = QPushButton("Preview on selection")
        self.message = QLabel("")
        self.message.setWordWrap(True)

        add_row = QHBoxLayout()
        add_row.addWidget(self.type_box, 1)
        add_row.addWidget(self.add_button)
        move_row = QHBoxLayout()
        for b in (self.remove_button, self.up_button, self.down_button):
            move_row.addWidget(b)
        file_row = QHBoxLayout()
        for w in (self.preset_box, self.load_button, self.save_button):
            file_row.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addWidget(self.stage_list, 1)
        layout.addLayout(add_row)
        layout.addLayout(move_row)
        layout.addWidget(self.params, 1)
        layout.addWidget(self.preview_button)
        layout.addWidget(self.message)

        self.add_button.clicked.connect(lambda: self.add_stage(self.type_box.currentText()))
        self.remove_button.clicked.connect(lambda: self.remove_stage(self.current()))
        self.up_button.clicked.connect(lambda: self.move_stage(self.current(), -1))
        self.down_button.clicked.connect(lambda: self.move_stage(self.current(), +1))
        self.stage_list.currentRowChanged.connect(self._show_params)
        self.params.itemChanged.connect(self._param_edited)
        self.preset_box.activated.connect(self._load_shipped)
        self.load_button.clicked.connect(self.load_dialog)
        self.save_button.clicked.connect(self.save_dialog)
        self.preview_button.clicked.connect(self.previewRequested)

    # --- the model --------------------------------------------------------------------------
    def preset(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "tail_s": self.tail_s,
            "stages": copy.deepcopy(self.stages),
        }

    def chain(self) -> Chain:
        """The live chain (raises PresetError if a stage cannot be built)."""
        return chain_from_preset(self.preset())

    def set_preset(self, data: dict[str, Any]) -> None:
        chain_from_preset(data)  # validate before replacing anything
        self.name = str(data.get("name", ""))
        self.description = str(data.get("description", ""))
        self.tail_s = float(data.get("tail_s", 0.0))
        self.stages = copy.deepcopy(data["stages"])
        self._refresh(0 if self.stages else -1)

    def current(self) -> int:
        return self.stage_list.currentRow()

    def add_stage(self, type_name: str) -> bool:
        try:
            spec = default_spec(type_name)
        except VoicemendError as exc:
            return self._fail(str(exc))
        row = self.current() + 1 if self.current() >= 0 else len(self.stages)
        self.stages.insert(row, spec)
        self._refresh(row)
        return True

    def remove_stage(self, row: int) -> None:
        if 0 <= row < len(self.stages):
            del self.stages[row]
            self._refresh(min(row, len(self.stages) - 1))

    def move_stage(self, row: int, delta: int) -> None:
        to = row + delta
        if 0 <= row < len(self.stages) and 0 <= to < len(self.stages):
            self.stages[row], self.stages[to] = self.stages[to], self.stages[row]
            self._refresh(to)

    def set_param(self, row: int, name: str, value: Any) -> bool:
        """Set one parameter; refused (False, message shown) if the stage rejects it."""
        trial = copy.deepcopy(self.stages[row])
        trial.setdefault("params", {})[name] = value
        try:
            build_stage(trial, row)
        except VoicemendError as exc:
            self._show_params(row)
            return self._fail(str(exc))
        self.stages[row] = trial
        self.message.setText("")
        self.changed.emit()
        return True

    # --- files ------------------------------------------------------------------------------
    def load(self, path: str | Path) -> bool:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            self.set_preset(data)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._fail(f"cannot read preset {path}: {exc}")
        except (VoicemendError, KeyError, TypeError) as exc:
            return self._fail(f"{path}: {exc}")
        self.message.setText(f"loaded {Path(path).name}")
        return True

    def save(self, path: str | Path, overwrite: bool = False) -> bool:
        try:
            self.chain()
            if not self.name or self.name == "untitled":
                self.name = Path(path).stem
            write_text_atomic(path, json.dumps(self.preset(), indent=2) + "\n", overwrite=overwrite)
        except (VoicemendError, OSError) as exc:
            return self._fail(str(exc))
        self.message.setText(f"saved {Path(path).name}")
        return True

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load chain preset", "", PRESET_FILTER)
        if path:
            self.load(path)

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save chain preset", "", PRESET_FILTER)
        if path:  # the dialog has already asked about replacing an existing file
            self.save(path, overwrite=True)

    def _load_shipped(self, index: int) -> None:
        if index > 0:
            from voicemend.plugin.presets import SHIPPED_DIR

            self.load(SHIPPED_DIR / f"{self.preset_box.itemText(index)}.json")
            self.preset_box.setCurrentIndex(0)

    # --- widgets ----------------------------------------------------------------------------
    def _refresh(self, select: int) -> None:
        self.stage_list.blockSignals(True)
        self.stage_list.clear()
        for i, spec in enumerate(self.stages):
            self.stage_list.addItem(f"{i + 1}. {spec['type']}")
        self.stage_list.blockSignals(False)
        self.stage_list.setCurrentRow(select)
        self._show_params(select)
        self.changed.emit()

    def _show_params(self, row: int) -> None:
        self.params.blockSignals(True)
        self.params.setRowCount(0)
        if 0 <= row < len(self.stages):
            params = self.stages[row].get("params", {})
            self.params.setRowCount(len(params))
            for i, (name, value) in enumerate(params.items()):
                key = QTableWidgetItem(name)
                key.setFlags(key.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.params.setItem(i, 0, key)
                self.params.setItem(i, 1, QTableWidgetItem(json.dumps(value)))
        self.params.resizeColumnToContents(0)  # whole parameter names; values get the rest
        self.params.blockSignals(False)

    def _param_edited(self, item: QTableWidgetItem) -> None:
        row = self.current()
        if item.column() != 1 or not 0 <= row < len(self.stages):
            return
        name = self.params.item(item.row(), 0).text()
        self.set_param(row, name, parse_value(item.text()))

    def _fail(self, message: str) -> bool:
        self.last_error = message
        self.message.setText(message)
        return False


__all__ = ["ChainPanel", "PresetError", "default_spec", "parse_value", "stage_types"]
