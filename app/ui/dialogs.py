"""Small dialogs: the list of photos that could not be scored, and the settings over REGISTRY."""
from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QMessageBox, QPushButton, QRadioButton, QSpinBox, QTableView, QVBoxLayout, QWidget)

from app.config import settings as settings_mod
from app.errors import SettingsError
from app.storage import browse
from app.ui import labels
from app.ui.format import printable

log = logging.getLogger(__name__)


def start_folder(path: str, fallback: str = "") -> str:
    """Where a file dialog opens: `path` when it is a folder, else its folder, else `fallback`,
    else the home folder (never the working directory; a model name is not a path)."""
    path = os.path.expanduser(path) if path else ""
    for candidate in (path, os.path.dirname(path) if path else "", fallback):
        if candidate and os.path.isabs(candidate) and os.path.isdir(candidate):
            return candidate
    return os.path.expanduser("~")


def folders_dialog(parent: QWidget | None, start: str) -> QFileDialog:
    """Qt's own folder dialog (the desktop's allows one folder), with several folders selectable."""
    dialog = QFileDialog(parent, "Add folders of photos (Ctrl- or Shift-click for several)", start_folder(start))
    dialog.setObjectName("addFoldersDialog")
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    for view in dialog.findChildren(QAbstractItemView):  # its list and tree of folders
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    return dialog


def ask_folders(parent: QWidget | None, start: str) -> list[str]:
    """The folders the user chose to add (none when cancelled)."""
    dialog = folders_dialog(parent, start)
    try:
        if not dialog.exec():
            return []
        return [f for f in dialog.selectedFiles() if os.path.isdir(f)]
    finally:
        dialog.deleteLater()


class ExportChoiceDialog(QDialog):
    """What Export picks copies: the user's picks only, or each group's keeper as well; with how
    many photos and files (RAW companions counted) each choice copies."""

    def __init__(self, picks: tuple[int, int], with_keepers: tuple[int, int], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("exportChoiceDialog")
        self.setWindowTitle("Export picks")

        def files(photos: int, count: int) -> str:
            return f", {count:,} files with RAW files" if count != photos else ""

        self.picks_only = QRadioButton(f"Your picks only ({picks[0]:,}{files(*picks)})", self)
        self.picks_only.setObjectName("exportPicksOnly")
        self.with_keepers = QRadioButton(
            f"Your picks and each group's keeper ({with_keepers[0]:,}{files(*with_keepers)})", self)
        self.with_keepers.setObjectName("exportWithKeepers")
        (self.picks_only if picks[0] else self.with_keepers).setChecked(True)
        text = QLabel("Copy which photos? The originals stay where they are; the next step asks for the folder.", self)
        text.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.go = self.buttons.addButton("Choose the folder…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.picks_only)
        layout.addWidget(self.with_keepers)
        layout.addWidget(self.buttons)

    def keepers(self) -> bool:
        return self.with_keepers.isChecked()


class ErrorsDialog(QDialog):
    """Photos that could not be scored, with the reason in one line; double-click shows one."""

    showRequested = Signal(int)  # photo id

    def __init__(self, errors: list[browse.FailedPhoto], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("errorsDialog")
        self.setWindowTitle("Photos that could not be scored")
        self.resize(900, 420)
        self.model = QStandardItemModel(0, 3, self)
        self.model.setHorizontalHeaderLabels(["File", "Problem", "Folder"])
        for e in errors:
            name = QStandardItem(printable(os.path.basename(e.path)))
            name.setData(e.id, Qt.ItemDataRole.UserRole)
            reason = QStandardItem(e.reason if e.kind == "error" else f"{e.reason} (not supported)")
            folder = QStandardItem(printable(os.path.dirname(e.path)))
            for item in (name, reason, folder):
                item.setEditable(False)
                item.setToolTip(printable(e.path))
            self.model.appendRow([name, reason, folder])
        self.table = QTableView(self)
        self.table.setObjectName("errorsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 220)
        self.table.doubleClicked.connect(
            lambda index: self.showRequested.emit(self.model.item(index.row(), 0).data(Qt.ItemDataRole.UserRole)))
        note = QLabel(f"{len(errors):,} photos. They are tried again at the next start or rescan; "
                      "details are in the log file.", self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table)
        layout.addWidget(buttons)


# Settings shown in the dialog, grouped as a photographer thinks of them.
GROUPS = [
    ("Model", ["model", "encoder", "head", "laion_encoder", "laion_head", "device", "precision", "runtime", "batch_size", "decode_workers"]),
    ("Scores", ["good_threshold"]),
    ("Culling", ["cull_rules", "cull_threshold", "out_of_focus_px", "motion_blur_px", "lost_highlights"]),
    ("Library", ["thumbnail_size", "exclude", "rejects_folder", "write_xmp"]),
    ("Grouping", ["burst_window_s", "scene_max_distance"]),
]
LABELS = {
    "model": "Model", "laion_encoder": "LAION V2 encoder", "laion_head": "LAION V2 head",
    "encoder": "Encoder", "head": "Aesthetic head", "device": "Device", "precision": "Precision",
    "runtime": "Runtime", "batch_size": "Batch size", "decode_workers": "Decode threads", "good_threshold": "Very good from",
    "cull_threshold": "Cull below", "thumbnail_size": "Thumbnail size", "exclude": "Skip files matching",
    "rejects_folder": "Rejects folder", "write_xmp": "Write XMP sidecars", "burst_window_s": "Burst gap (s)",
    "scene_max_distance": "Same scene within", "cull_rules": "Cull rules", "out_of_focus_px": "Out of focus from (px)",
    "motion_blur_px": "Motion blur from (px)", "lost_highlights": "Highlights lost from (share)",
}


class SettingsDialog(QDialog):
    """One editor per setting in the typed registry; saving writes only what changed."""

    def __init__(self, settings: settings_mod.Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.editors: dict[str, QWidget] = {}
        self.changes: dict[str, Any] = {}
        layout = QVBoxLayout(self)
        shown = set()
        for title, names in GROUPS:
            names = [n for n in names if n in settings_mod.REGISTRY]
            if not names:
                continue
            heading = QLabel(f"<b>{title}</b>", self)
            layout.addWidget(heading)
            form = QFormLayout()
            for name in names:
                self._add(form, name)
                shown.add(name)
            layout.addLayout(form)
        rest = [n for n in settings_mod.REGISTRY if n not in shown]
        if rest:
            layout.addWidget(QLabel("<b>Other</b>", self))
            form = QFormLayout()
            for name in rest:
                self._add(form, name)
            layout.addLayout(form)
        where = labels.DimLabel(f"Saved in {printable(str(settings.path))}; the command line uses the same file.", self)
        where.setWordWrap(True)
        layout.addWidget(where)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults, self)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self._defaults)
        layout.addWidget(buttons)

    def _add(self, form: QFormLayout, name: str) -> None:
        setting = settings_mod.REGISTRY[name]
        value = getattr(self.settings, name)
        editor = self._editor(setting)
        editor.setObjectName("setting_" + name)
        editor.setToolTip(setting.doc)
        self._set(editor, setting, value)
        self.editors[name] = editor
        row: QWidget = editor
        if name in ("encoder", "head", "laion_encoder", "laion_head", "rejects_folder"):
            row = QWidget(self)
            box = QHBoxLayout(row)
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(editor, 1)
            browse_button = QPushButton("Browse…", row)
            browse_button.clicked.connect(lambda _=False, n=name: self._browse(n))
            box.addWidget(browse_button)
        label = QLabel(LABELS.get(name, name.replace("_", " ").capitalize()), self)
        label.setToolTip(setting.doc)
        source = self.settings.sources.get(name, "default")
        if source in ("env", "flag"):
            label.setText(label.text() + " *")
            label.setToolTip(f"{setting.doc}\nSet by {'the environment' if source == 'env' else 'a command-line flag'} "
                             "for this run; a value saved here applies when that is not set.")
        form.addRow(label, row)

    def _editor(self, setting: settings_mod.Setting) -> QWidget:
        if setting.choices and setting.type is not list:
            combo = QComboBox(self)
            combo.addItems(list(setting.choices))
            return combo
        if setting.type is bool:
            return QCheckBox(self)
        if setting.type is int:
            spin = QSpinBox(self)
            spin.setRange(int(setting.minimum if setting.minimum is not None else -10**9),
                          int(setting.maximum if setting.maximum is not None else 10**9))
            if setting.minimum == 0 and setting.name in ("batch_size", "decode_workers"):
                spin.setSpecialValueText("automatic")
            return spin
        if setting.type is float:
            spin = QDoubleSpinBox(self)
            spin.setDecimals(2)
            spin.setRange(float(setting.minimum if setting.minimum is not None else -1e9),
                          float(setting.maximum if setting.maximum is not None else 1e9))
            spin.setSingleStep(0.01 if setting.maximum is not None and setting.maximum <= 1 else
                               0.1 if setting.maximum == 16 else 0.25)
            return spin
        line = QLineEdit(self)
        if setting.type is list:
            line.setPlaceholderText("comma-separated: " + ", ".join(setting.choices) if setting.choices
                                    else "comma-separated patterns, e.g. *.tmp, exports/*")
        line.setMinimumWidth(360)
        return line

    @staticmethod
    def _set(editor: QWidget, setting: settings_mod.Setting, value: Any) -> None:
        if isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            editor.setValue(value)
        elif isinstance(editor, QLineEdit):
            editor.setText(", ".join(value) if setting.type is list else str(value))

    @staticmethod
    def _get(editor: QWidget, setting: settings_mod.Setting) -> Any:
        if isinstance(editor, QComboBox):
            return editor.currentText()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            return editor.value()
        text = editor.text().strip()  # type: ignore[attr-defined]
        return setting.parse(text, LABELS.get(setting.name, setting.name)) if setting.type is list else text

    def _browse(self, name: str) -> None:
        editor = self.editors[name]
        start = start_folder(editor.text().strip())  # type: ignore[attr-defined]
        if name in ("head", "laion_head"):
            path, _ = QFileDialog.getOpenFileName(self, "Aesthetic head weights", start,
                                                  "PyTorch weights (*.pth *.pt)")
        else:
            title = {"encoder": "SigLIP encoder folder", "laion_encoder": "CLIP encoder folder"}.get(name, "Rejects folder")
            path = QFileDialog.getExistingDirectory(self, title, start)
        if path:
            editor.setText(path)  # type: ignore[attr-defined]

    def _defaults(self) -> None:
        for name, editor in self.editors.items():
            setting = settings_mod.REGISTRY[name]
            self._set(editor, setting, setting.default)

    def values(self) -> dict[str, Any]:
        return {name: self._get(editor, settings_mod.REGISTRY[name]) for name, editor in self.editors.items()}

    def _save(self) -> None:
        try:
            values = self.values()
            changes = {n: v for n, v in values.items() if v != getattr(self.settings, n)}
            if changes:
                settings_mod.save(self.settings.path, changes)
        except SettingsError as exc:
            QMessageBox.warning(self, "Settings not saved", str(exc))
            return
        self.changes = changes
        self.accept()
