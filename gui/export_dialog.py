"""The Export dialog: where, which format and sample type, and whether the effects chain runs.

The format follows the file name's extension and the format list follows the name, so either
can be changed. A lossy format says, before anything is written, that the whole recording is
coded again and at which bitrate; what the encoder cannot write (Opus at 44.1 kHz, AAC at
192 kHz) is refused on OK, with the encoder's reason, and the dialog stays open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from voicemend.engine.audio import SourceFormat
from voicemend.engine.container import WRITE_SUBTYPES
from voicemend.engine.errors import AudioFileError
from voicemend.engine.io import (
    EXTENSION_FORMATS,
    OPUS_EXTENSIONS,
    check_output,
    output_subtype,
    source_bitrate_kbps,
)
from voicemend.engine.lossy import CODEC_NAMES, is_lossy

# What the format list offers, by extension (other extensions the engine writes work typed).
FORMAT_NAMES = {
    ".wav": "WAV",
    ".flac": "FLAC",
    ".aiff": "AIFF",
    ".m4a": "M4A (AAC or ALAC)",
    ".mp3": "MP3",
    ".ogg": "Ogg Vorbis",
    ".opus": "Opus",
    ".w64": "Wave64",
    ".caf": "CAF",
}
PCM_NAMES = {
    "PCM_16": "16-bit",
    "PCM_24": "24-bit",
    "PCM_32": "32-bit",
    "FLOAT": "32-bit float",
}
CODED_SUBTYPES = {"MP4": list(WRITE_SUBTYPES), "MP3": ["MPEG_LAYER_III"]}
SUBTYPE_NAMES = PCM_NAMES | {
    "AAC": "AAC (lossy)",
    "ALAC_16": "ALAC 16-bit (lossless)",
    "ALAC_24": "ALAC 24-bit (lossless)",
    "MPEG_LAYER_III": "MP3 (lossy)",
    "VORBIS": "Vorbis (lossy)",
    "OPUS": "Opus (lossy)",
}


@dataclass(frozen=True)
class ExportChoice:
    path: Path
    subtype: str
    through_chain: bool


def subtypes_for(path: Path) -> list[str]:
    """The sample types an export to ``path`` can take ([] for an extension not written)."""
    fmt = EXTENSION_FORMATS.get(path.suffix.lower())
    if fmt is None:
        return []
    if fmt == "OGG":
        return ["OPUS"] if path.suffix.lower() in OPUS_EXTENSIONS else ["VORBIS"]
    return CODED_SUBTYPES.get(fmt) or [s for s in PCM_NAMES if sf.check_format(fmt, s)]


def suggested_suffix(source: SourceFormat) -> str:
    """An export's extension by default: the source's own where the list offers it."""
    for suffix in FORMAT_NAMES:
        if EXTENSION_FORMATS[suffix] == source.format.upper() and (
            source.format.upper() != "OGG" or subtypes_for(Path("x" + suffix)) == [source.subtype]
        ):
            return suffix
    return ".wav"


def lossy_note(subtype: str, source: SourceFormat) -> str:
    """What a lossy export does to the audio outside the repairs, and at which bitrate."""
    if not is_lossy(subtype):
        return ""
    kbps = source_bitrate_kbps(source)
    rate = f"at {kbps:.0f} kb/s, the source's bitrate" if kbps else "at the encoder's default"
    return (
        f"{CODEC_NAMES[subtype]} is lossy: the whole recording is coded again ({rate}), so "
        "the audio outside the repairs changes a little too. WAV or FLAC keeps it bit for bit."
    )


class ExportDialog(QDialog):
    def __init__(
        self,
        suggested: Path,
        source: SourceFormat,
        sample_rate: int,
        n_channels: int,
        chain_stages: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.source, self.sample_rate, self.n_channels = source, sample_rate, n_channels
        self.path_edit = QLineEdit(str(suggested))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.format = QComboBox()
        for suffix, name in FORMAT_NAMES.items():
            self.format.addItem(name, suffix)
        self.subtype = QComboBox()
        self.chain = QCheckBox(f"render through the effects chain ({chain_stages} stage(s))")
        self.chain.setEnabled(chain_stages > 0)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setMinimumHeight(3 * self.note.fontMetrics().lineSpacing())  # no jumps
        self.setMinimumWidth(520)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.path_edit.textChanged.connect(lambda _t: self._path_changed())
        self.format.activated.connect(lambda _i: self._format_chosen())
        self.subtype.currentIndexChanged.connect(lambda _i: self._show_note())
        form = QFormLayout(self)
        form.addRow("file", row)
        form.addRow("format", self.format)
        form.addRow("samples", self.subtype)
        form.addRow("", self.chain)
        form.addRow(self.note)
        form.addRow(self.buttons)
        self._path_changed()

    def choice(self) -> ExportChoice:
        return ExportChoice(
            Path(self.path_edit.text()), self.subtype.currentData() or "", self.chain.isChecked()
        )

    def accept(self) -> None:
        """OK: an output the encoder cannot write is said here, and the dialog stays."""
        choice = self.choice()
        try:
            check_output(  # no sample type (a name the list has none for): the name's fault
                choice.path, self.sample_rate, self.n_channels, self.source, choice.subtype or None
            )
        except AudioFileError as exc:
            self.note.setText(f"⚠ {exc}")
            return
        super().accept()

    def _path_changed(self) -> None:
        path = Path(self.path_edit.text())
        index = self.format.findData(path.suffix.lower())
        if index >= 0:
            self.format.setCurrentIndex(index)
        self._fill_subtypes(path)

    def _format_chosen(self) -> None:
        path, suffix = Path(self.path_edit.text() or "export"), self.format.currentData()
        known = path.suffix.lower() in EXTENSION_FORMATS  # "talk.fixed" keeps its ".fixed"
        self.path_edit.setText(str(path.with_suffix(suffix) if known else f"{path}{suffix}"))

    def _fill_subtypes(self, path: Path) -> None:
        current = self.subtype.currentData()
        choices = subtypes_for(path)
        self.subtype.blockSignals(True)
        self.subtype.clear()
        for subtype in choices:
            self.subtype.addItem(SUBTYPE_NAMES.get(subtype, subtype), subtype)
        default = output_subtype(path, self.source) if choices else None
        for wanted in (current, default, "PCM_24"):
            if wanted in choices:
                self.subtype.setCurrentIndex(choices.index(wanted))
                break
        self.subtype.blockSignals(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(choices))
        self._show_note()

    def _show_note(self) -> None:
        if not self.subtype.count():
            known = " ".join(sorted(EXTENSION_FORMATS))
            self.note.setText(f"⚠ name the file with one of: {known}")
            return
        self.note.setText(lossy_note(self.subtype.currentData(), self.source))

    def _browse(self) -> None:
        every = " ".join(f"*{s}" for s in FORMAT_NAMES)
        filters = [f"Audio ({every})"] + [f"{n} (*{s})" for s, n in FORMAT_NAMES.items()]
        path, _ = QFileDialog.getSaveFileName(
            self, "Export to", self.path_edit.text(), ";;".join(filters)
        )
        if path:
            self.path_edit.setText(path)
