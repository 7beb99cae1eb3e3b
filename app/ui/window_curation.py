"""What the user asks of the curation service from the window: marks (stars, pick, reject) on
the selection, accepting the picks, removing the rejected photos and undoing it, exporting the
picks. The work runs in the service's pools; the answers come back here and are told in the
status bar (and through the window's curationDone signal)."""
from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.storage import browse
from app.ui.dialogs import ExportChoiceDialog, start_folder
from app.ui.format import plural, printable
from app.workers.curation import ExportCounts, Removal

log = logging.getLogger(__name__)

RELOAD_ROWS_LIMIT = 2000  # marks on more photos than this reload the view instead of row by row


class CurationCommands(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        window.cull.markRequested.connect(self.flag_selected)
        window.cull.rateRequested.connect(self.rate_selected)
        window.cull.removeRequested.connect(self.remove_rejected)
        window.cull.undoRequested.connect(self.undo_removal)
        window.curation.marksChanged.connect(self._marked_by_curation)

    def finish_interrupted_removal(self) -> None:
        """A removal a crash interrupted is finished first (at start)."""
        self.w.curation.repair(self._repaired)

    def _marked_by_curation(self, ids: list[int]) -> None:
        """Marks were saved (sidecars included), from any view: show them everywhere."""
        if self.w.quitting:
            return
        if len(ids) > RELOAD_ROWS_LIMIT:
            self.w.model.reload()
        else:
            self.w.model.photos_changed(ids)
        self.w.refresh_counts()
        self._tell_curation_views(ids)

    def _tell_curation_views(self, ids: list[int]) -> None:
        if len(ids) > RELOAD_ROWS_LIMIT:
            self.w.curation_outdated()
            return
        fresh = browse.photos_by_id(self.w.engine, ids)
        self.w.best.photos_changed(fresh)
        self.w.cull.photos_changed(fresh)

    def rate_selected(self, stars: int) -> None:
        ids = self.w.selected_ids()
        if ids:
            said = f"{plural(len(ids), 'photo')} rated {'★' * stars or 'no stars'}"
            self.w.curation.mark(ids, stars=stars, on_done=lambda _ids: self.w.statusBar().showMessage(said, 3000))

    def flag_selected(self, flag: str) -> None:
        if flag == "pick" and self.w.pages.currentWidget() is self.w.best:
            self.w.best.make_pick()  # P in best shots: the focused frame becomes its group's pick
            return
        ids = self.w.selected_ids()
        if ids:
            said = f"{plural(len(ids), 'photo')} {({'pick': 'picked', 'reject': 'rejected', '': 'unflagged'})[flag]}"
            self.w.curation.mark(ids, flag=flag, on_done=lambda _ids: self.w.statusBar().showMessage(said, 3000))

    def accept_all_picks(self) -> None:
        if self.w.current_view() != "best":
            self.w.show_view("best")
            self.w.statusBar().showMessage("These are the picks; Ctrl+Shift+A again accepts them all", 8000)
            return
        self.w.best.accept_all()

    def compare_frames(self) -> None:
        if self.w.current_view() == "best":
            self.w.best.compare()

    def confirm(self, title: str, text: str, action: str) -> bool:
        """Ask before moving files (the tests answer for the user)."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, self.w)
        go = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is go

    def remove_rejected(self) -> None:
        """Move the photos marked rejected (in the folder shown) to the trash or the rejects folder."""
        self.w.statusBar().showMessage("Looking for rejected photos…")
        self.w.curation.find_rejected(self.w.query.under, self._confirm_removal)

    def _removal_target(self) -> str:
        folder = self.w.settings.rejects_folder
        return f"the rejects folder ({printable(folder)})" if folder else "the system trash"

    def _confirm_removal(self, removal: Removal) -> None:
        if self.w.quitting or removal.under != self.w.query.under:
            return
        scope = f"in {printable(removal.under)}" if removal.under else "in the library"
        if not removal.photos:
            self._tell(f"No photos are marked rejected {scope}. Mark photos with X first.")
            return
        n = plural(len(removal.photos), "photo")
        names = ", ".join(printable(p.name) for p in removal.photos[:5]) + (" …" if len(removal.photos) > 5 else "")
        folder = self.w.settings.rejects_folder
        where = f"the rejects folder:\n{printable(folder)}" if folder else "the system trash?"
        text = (f"Move {n} marked rejected {scope} to {where}\n\n{names}\n\n"
                "Their RAW files and XMP sidecars go with them. Nothing is deleted: "
                "Undo removal (Ctrl+Z) puts them back.")
        action = "Move to the trash" if not self.w.settings.rejects_folder else "Move to the rejects folder"
        if not self.confirm("Remove rejected photos", text, action):
            self.w.statusBar().clearMessage()
            return
        self.w.statusBar().showMessage(f"Moving {n} to {self._removal_target()}…")
        self.w.curation.remove(removal, self._removed)

    def _removed(self, removal: Removal) -> None:
        if self.w.quitting:
            return
        report = removal.report
        self._after_files_moved()
        moved = plural(len(removal.removed_ids), "photo")
        files = len(report.moved) if report else 0
        extra = f" ({plural(files, 'file')} with RAW files and sidecars)" if files > len(removal.removed_ids) else ""
        message = f"Moved {moved}{extra} to {self._removal_target()}. Undo removal (Ctrl+Z) puts them back."
        if report and report.failed:
            message = f"Moved {moved}; {plural(len(report.failed), 'file')} could not be moved and stayed in place."
            self._report_problems("Some photos were not moved", report.failed)
        self._tell(message)

    def undo_removal(self) -> None:
        self.w.statusBar().showMessage("Putting the last removed photos back…")
        self.w.curation.undo(self._undone)

    def _undone(self, result) -> None:
        if self.w.quitting:
            return
        report, ids = result
        if report.removal_id is None:
            self._tell("Nothing to undo: no removal is waiting to be put back.")
            return
        self._after_files_moved()
        files = len(report.restored)
        message = f"Restored {plural(len(ids), 'photo')}" + (
            f" ({plural(files, 'file')} with RAW files and sidecars)" if files > len(ids) else "") + "."
        if report.failed:
            message += f" {plural(len(report.failed), 'file')} could not be put back; nothing was overwritten."
            self._report_problems("Some files could not be put back", report.failed)
        self._tell(message)

    def _tell(self, message: str) -> None:
        self.w.statusBar().showMessage(message, 15_000)
        self.w.curationDone.emit(message)

    def _report_problems(self, title: str, problems: list[str]) -> None:
        lines = []
        for text in problems[:12]:
            path, _, why = text.partition(": ")
            lines.append(f"{printable(os.path.basename(path))}: {why or text}")
        if len(problems) > 12:
            lines.append(f"and {len(problems) - 12} more (details in the log file)")
        for text in problems:
            log.warning("%s: %s", title, text)
        QMessageBox.warning(self.w, title, "\n".join(lines))

    def _after_files_moved(self) -> None:
        self.w.reload()
        self.w.refresh_counts()
        self.w.curation_outdated()

    def _repaired(self, repaired) -> None:
        if repaired and not self.w.quitting:
            self._after_files_moved()
            self._tell(f"Finished the record of a removal that was interrupted: {repaired.text()}.")

    def export_picks(self) -> None:
        """Ctrl+E: count what each choice copies (in a worker), ask, then ask for the folder."""
        self.w.statusBar().showMessage("Counting the picks…")
        self.w.curation.count_export(self.w.query.under, self._export_counted)

    def choose_export(self, counts: ExportCounts) -> bool | None:
        """Picks only (False) or with each group's keeper (True); None when cancelled (tests answer)."""
        dialog = ExportChoiceDialog(counts.picks, counts.with_keepers, self.w)
        try:
            return dialog.keepers() if dialog.exec() else None
        finally:
            dialog.deleteLater()

    def _export_counted(self, counts: ExportCounts) -> None:
        if self.w.quitting or counts.under != self.w.query.under:
            return
        self.w.statusBar().clearMessage()
        if not counts.with_keepers[0]:
            self._tell("Nothing to export: mark photos with P, or let Best shots find bursts and similar shots.")
            return
        keepers = self.choose_export(counts)
        if keepers is None:
            return
        under = counts.under
        # Beside the library folder, not in it: a folder holding library photos is refused.
        library_folder = under or (counts.roots[0] if counts.roots else "")
        dest = QFileDialog.getExistingDirectory(self.w, "Copy the picks to a folder (outside the library)",
                                                start_folder(os.path.dirname(library_folder) if library_folder else ""))
        if not dest:
            return
        self.w.statusBar().showMessage(f"Copying the picks to {printable(dest)}…")

        def done(report) -> None:
            if not self.w.quitting:
                already = f" ({plural(len(report.already), 'file')} already there from an earlier export)" \
                    if report.already else ""
                self._tell(f"Copied {plural(len(report.copied), 'file')} to {printable(dest)}{already}.")

        self.w.curation.export(dest, under, done, keepers=keepers)
