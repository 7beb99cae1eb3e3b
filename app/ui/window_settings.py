"""The running window's settings: the Settings dialog, the model files chooser and the Cull tab's
threshold change them; the registry's Announcer says what each change means, and a handler here
brings the app in line for every kind of effect, so no setting needs a restart."""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.config import models, settings as settings_mod
from app.config.settings import Settings
from app.errors import AestheteError
from app.ui.dialogs import SettingsDialog, start_folder


class WindowSettings(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.changes = settings_mod.Announcer()
        on = self.changes.subscribe
        on(settings_mod.MODEL, self._reload_model)
        on(settings_mod.RESCAN, lambda _old, _new, _names: window.library.rescan(None))
        on(settings_mod.REGROUP, lambda _old, _new, _names: window.curation_outdated())
        on(settings_mod.THRESHOLDS, self._thresholds)
        on(settings_mod.CULL_RULES, lambda _old, new, _names: window.cull.set_rules(new.cull_rules))
        on(settings_mod.THUMBNAILS, self._thumbnails)
        window.banner.chooseRequested.connect(self.choose_model)
        window.cull.thresholdChanged.connect(self._cull_threshold_changed)

    def choose_model(self) -> None:
        """Local files for the model the settings chose (each model has its own settings)."""
        own = models.spec(self.w.settings.model)
        folder = QFileDialog.getExistingDirectory(
            self.w, f"Choose the {own.encoder_kind} encoder folder (config.json and model.safetensors)",
            start_folder(getattr(self.w.settings, own.encoder_setting)))
        if not folder:
            return
        head, _ = QFileDialog.getOpenFileName(self.w, f"Choose the aesthetic head ({own.head_file})",
                                              start_folder(getattr(self.w.settings, own.head_setting),
                                                           os.path.dirname(folder)),
                                              "PyTorch weights (*.pth *.pt)")
        if not head:
            return
        self.apply_settings({own.encoder_setting: folder, own.head_setting: head})

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.w.settings, self.w)
        if dialog.exec() and dialog.changes:
            self.apply_settings(dialog.changes, save=False)

    def apply_settings(self, changes: dict[str, Any], save: bool = True) -> None:
        """Save these settings and apply them to the running app. The options given on the command
        line stay in force for the settings not changed here."""
        if save and changes:
            try:
                settings_mod.save(self.w.settings.path, changes)
            except AestheteError as exc:
                QMessageBox.warning(self.w, "Settings not saved", str(exc))
                return
        fresh = settings_mod.load(self.w.settings.path, self.w.overrides)
        for name, value in changes.items():
            # What the user just chose applies now, even over a flag given at start.
            fresh.values[name] = settings_mod.REGISTRY[name].parse(value, name)
            fresh.sources[name] = "file"
        self.use(fresh)

    def use(self, fresh: Settings) -> list[str]:
        """These settings from now on: every part of the app that keeps settings gets them, then the
        handlers of what changed run. Returns the names that changed."""
        old, self.w.settings = self.w.settings, fresh
        self.w.library.settings = fresh
        self.w.curation.settings = fresh
        return self.changes.announce(old, fresh)

    # --- what a change means -----------------------------------------------------------------

    def _reload_model(self, _old: Settings, new: Settings, names: list[str]) -> None:
        if "model" in names:  # the grid shows the new model's scores
            self.w.filters.set_model(new.model, announce=True)
        self.w.scoring_ui.model_loading()
        self.w.scoring.reconfigure(new)

    def _thresholds(self, _old: Settings, new: Settings, _names: list[str]) -> None:
        w = self.w
        w.delegate.good, w.delegate.cull = new.good_threshold, new.cull_threshold
        w.viewer.set_thresholds(new.good_threshold, new.cull_threshold)
        w.grid.viewport().update()
        w.best.set_thresholds(new.good_threshold, new.cull_threshold)
        w.cull.set_thresholds(new.good_threshold, new.cull_threshold)

    def _thumbnails(self, _old: Settings, new: Settings, _names: list[str]) -> None:
        w = self.w
        w.tile = new.thumbnail_size
        w.model.set_thumb_pixels(new.thumbnail_size)
        w.thumbnails.clear_memory()
        w.grid.set_tile(w.tile)

    def _cull_threshold_changed(self, value: float) -> None:
        """The Cull tab's threshold is the cull_threshold setting: saved, and the viewer, the grid
        and best shots follow it."""
        settings = self.w.settings
        if abs(value - settings.cull_threshold) <= 1e-9:
            return
        try:
            settings_mod.save(settings.path, {"cull_threshold": value})
        except (AestheteError, OSError) as exc:
            self.w.show_problem(f"the threshold applies until you quit, it could not be saved: {exc}")
        # Only this value changes: the rest stays as the app started (flags included).
        self.use(dataclasses.replace(settings, values={**settings.values, "cull_threshold": value},
                                     sources={**settings.sources, "cull_threshold": "file"}))
