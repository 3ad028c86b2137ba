"""The editor's main window: waveform, selection, repair, dropout list, undo/redo, export."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence, QUndoStack
from PyQt6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from voicemend.engine.detect import Detection, DropoutDetector
from voicemend.engine.errors import VoicemendError
from voicemend.engine.inpaint import INPAINTERS, get_inpainter
from voicemend.engine.regions import Region, format_time_s
from voicemend.gui.commands import ApplyPatch
from voicemend.gui.document import Document
from voicemend.gui.waveform import WaveformView
from voicemend.gui.workers import Job

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.mp3 *.aif *.aiff);;All files (*)"


class DropoutList(QWidget):
    """Detected dropouts: time, length, kind, confidence; repair one, all, or ignore."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["time", "length", "kind", "confidence"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.repair_button = QPushButton("Repair")
        self.repair_all_button = QPushButton("Repair all")
        self.ignore_button = QPushButton("Ignore")
        buttons = QHBoxLayout()
        for b in (self.repair_button, self.repair_all_button, self.ignore_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.detections: list[Detection] = []

    def set_detections(self, detections: list[Detection], sample_rate: int) -> None:
        self.detections = list(detections)
        self.table.setRowCount(len(detections))
        for row, d in enumerate(detections):
            start_s, end_s = d.seconds(sample_rate)
            cells = [
                format_time_s(start_s),
                f"{1000 * (end_s - start_s):.1f} ms",
                d.kind.value,
                f"{d.confidence:.2f}",
            ]
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))

    def current(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def remove_row(self, row: int) -> Detection:
        self.table.removeRow(row)
        return self.detections.pop(row)


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("voicemend")
        self.resize(1200, 700)
        self.document: Document | None = None
        self.undo_stack = QUndoStack(self)
        self.job: Job | None = None
        self._finished_job: Job | None = None
        self.progress: QProgressDialog | None = None
        self.last_error = ""
        self.waveform = WaveformView()
        self.setCentralWidget(self.waveform)
        self.dropouts = DropoutList()
        dock = QDockWidget("Detected dropouts", self)
        dock.setWidget(self.dropouts)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.method = QComboBox()
        self.method.addItems([m for m in ("auto", "neural", "lsar", "pattern") if m in INPAINTERS])
        self.selection_label = QLabel("no selection")
        self.device_label = QLabel(self._device_text())
        self.statusBar().addWidget(self.selection_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)
        self._build_actions()
        self.waveform.selectionChanged.connect(self._selection_changed)
        self.dropouts.table.cellClicked.connect(self.jump_to_detection)
        self.dropouts.repair_button.clicked.connect(self.repair_current_detection)
        self.dropouts.repair_all_button.clicked.connect(self.repair_all)
        self.dropouts.ignore_button.clicked.connect(self.ignore_current_detection)
        # A bound slot (not a lambda) is disconnected by Qt when the window goes away.
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    # --- set-up -----------------------------------------------------------------------------
    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action("&Open…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.export_action = self._action("&Export…", "Ctrl+E", self.export_dialog)
        file_menu.addActions([self.open_action, self.export_action])
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z")])
        edit_menu.addActions([self.undo_action, self.redo_action])
        repair_menu = self.menuBar().addMenu("&Repair")
        self.repair_action = self._action("Repair &selection", "Ctrl+R", self.repair_selection)
        self.detect_action = self._action("&Detect dropouts", "Ctrl+D", self.detect)
        self.repair_all_action = self._action(
            "Repair &all detected", "Ctrl+Shift+R", self.repair_all
        )
        repair_menu.addActions([self.repair_action, self.detect_action, self.repair_all_action])
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self._action("Zoom to &selection", "Ctrl+F", self.zoom_to_selection))
        toolbar = QToolBar("main")
        toolbar.addActions([self.open_action, self.repair_action, self.detect_action])
        toolbar.addWidget(QLabel(" method: "))
        toolbar.addWidget(self.method)
        self.addToolBar(toolbar)

    def _action(self, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut) if isinstance(shortcut, str) else shortcut)
        action.triggered.connect(slot)
        return action

    @staticmethod
    def _device_text() -> str:
        try:
            import torch

            return "GPU (CUDA)" if torch.cuda.is_available() else "CPU"
        except ImportError:
            return "CPU"

    # --- files ------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open audio", "", AUDIO_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        try:
            document = Document.open(path)
        except VoicemendError as exc:
            self.show_error(str(exc))
            return False
        self.document = document
        self.undo_stack.clear()
        self.waveform.set_document(document)
        self.dropouts.set_detections([], document.sample_rate)
        self._refresh_overlays()
        self._update_title()
        return True

    def export_dialog(self) -> None:
        if self.document is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export",
            str(self.document.path.with_suffix(".fixed.wav")),
            "WAV (*.wav);;FLAC (*.flac)",
        )
        if path:
            overwrite = Path(path).exists() and self._confirm(f"Replace {path}?")
            self.export_to(path, overwrite=overwrite)

    def export_to(self, path: str | Path, overwrite: bool = False) -> bool:
        if self.document is None:
            return False
        try:
            self.document.export(path, overwrite=overwrite)
        except VoicemendError as exc:
            self.show_error(str(exc))
            return False
        self.statusBar().showMessage(f"exported {path}", 5000)
        return True

    # --- repair -----------------------------------------------------------------------------
    def selected_region(self) -> Region | None:
        if self.document is None:
            return None
        start_s, end_s = self.waveform.selected()
        if end_s - start_s <= 0:
            return None
        sr = self.document.sample_rate
        start = max(0, round(start_s * sr))
        end = min(self.document.n_frames, round(end_s * sr))
        return Region(start, end) if end > start else None

    def repair_selection(self) -> None:
        region = self.selected_region()
        if region is None:
            self.show_error("select a region to repair first (drag on the waveform)")
            return
        self.repair_regions([region])

    def repair_regions(self, regions: list[Region]) -> None:
        document = self.document
        if document is None or self.job is not None:
            return
        method = self.method.currentText()

        def work(progress, should_cancel):
            inpainter = get_inpainter(method)
            patches = []
            for i, region in enumerate(regions):
                if should_cancel():
                    break
                patches.append(document.make_patch(region, inpainter, should_cancel=should_cancel))
                progress(i + 1, len(regions))
            return patches

        self._run(work, "Repairing…", self._repairs_done)

    def _repairs_done(self, patches) -> None:
        if self.document is None:
            return
        self.undo_stack.beginMacro(f"repair {len(patches)} region(s)")
        for patch in patches:
            self.undo_stack.push(ApplyPatch(self.document, patch, self._document_changed))
        self.undo_stack.endMacro()

    def detect(self) -> None:
        document = self.document
        if document is None or self.job is not None:
            return
        from voicemend.engine.audio import Audio

        def work(progress, should_cancel):
            audio = Audio(document.edited(0, document.n_frames), document.sample_rate)
            return DropoutDetector()(audio, progress=progress)

        self._run(work, "Detecting dropouts…", self._detections_done)

    def _detections_done(self, detections) -> None:
        if self.document is not None:
            self.dropouts.set_detections(detections, self.document.sample_rate)
            self._refresh_overlays()
            self.statusBar().showMessage(f"{len(detections)} dropout(s) found", 5000)

    def jump_to_detection(self, row: int, _col: int = 0) -> None:
        if self.document is None or row >= len(self.dropouts.detections):
            return
        start_s, end_s = self.dropouts.detections[row].seconds(self.document.sample_rate)
        self.waveform.select(start_s, end_s)
        self.waveform.zoom_to(start_s, end_s)

    def repair_current_detection(self) -> None:
        row = self.dropouts.current()
        if row is not None:
            self.repair_regions([self.dropouts.remove_row(row).region])

    def ignore_current_detection(self) -> None:
        row = self.dropouts.current()
        if row is not None:
            self.dropouts.remove_row(row)
            self._refresh_overlays()

    def repair_all(self) -> None:
        regions = [d.region for d in self.dropouts.detections]
        if regions:
            self.dropouts.set_detections([], self.document.sample_rate if self.document else 1)
            self.repair_regions(regions)

    def zoom_to_selection(self) -> None:
        a, b = self.waveform.selected()
        if b > a:
            self.waveform.zoom_to(a, b, margin_s=0.05)

    # --- plumbing ---------------------------------------------------------------------------
    def _run(self, work, label: str, done) -> None:
        self.job = Job(work)
        self.progress = QProgressDialog(label, "Cancel", 0, 0, self)
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(300)
        self.progress.canceled.connect(self.job.cancel)
        self.job.progress.connect(self._on_progress)
        self.job.finished.connect(done)
        self.job.failed.connect(self.show_error)
        self.job.thread.finished.connect(self._job_ended)
        self.job.start()

    def _on_progress(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.setMaximum(total)
            self.progress.setValue(done)

    def _job_ended(self) -> None:
        if self.progress is not None:
            self.progress.reset()
            self.progress = None
        job, self.job = self.job, None
        if job is not None:
            # Let Qt delete the thread once its event loop is done; dropping the last Python
            # reference inside its own finished() signal could destroy it mid-shutdown.
            job.thread.wait()
            job.deleteLater()
            job.thread.deleteLater()
            self._finished_job = job

    def _document_changed(self) -> None:
        self.waveform.refresh()
        self._refresh_overlays()

    def _refresh_overlays(self) -> None:
        if self.document is None:
            return
        sr = self.document.sample_rate
        detections = [d.seconds(sr) for d in self.dropouts.detections]
        repairs = [(p.region[0] / sr, p.region[1] / sr) for p in self.document.patches]
        self.waveform.set_overlays(detections, repairs)

    def _selection_changed(self, start_s: float, end_s: float) -> None:
        self.selection_label.setText(
            f"selection {format_time_s(start_s)} - {format_time_s(end_s)} "
            f"({1000 * (end_s - start_s):.1f} ms)"
        )

    def _on_clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def _update_title(self) -> None:
        name = self.document.path.name if self.document else "voicemend"
        modified = "" if self.undo_stack.isClean() else " *"
        self.setWindowTitle(f"{name}{modified} - voicemend")

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "voicemend", question)
        return answer == QMessageBox.StandardButton.Yes

    def show_error(self, message: str) -> None:
        """A non-blocking error dialog; nothing in the document is lost."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Warning, "voicemend", message, parent=self)
        box.setModal(False)
        box.show()
