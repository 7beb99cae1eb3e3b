"""The library service shared by the command line and the GUI workers (no Qt).

It ties scanning, the database and the scoring pipeline together: scan roots into the cache,
then analyse what is pending, writing each photo's result as it arrives so that an interrupted
run resumes where it stopped.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from sqlalchemy import Engine

from app.config.settings import Settings
from app.core import decode, formats, preprocess, quality, ratings, scanner, xmp
from app.errors import Cancelled, FacesUnavailable, PhotoError
from app.core.pipeline import PhotoResult, StageTimes, default_workers, score_stream
from app.pathutil import is_under
from app.storage import journal, repo

if TYPE_CHECKING:  # torch loads in a couple of seconds: only commands that score pay for it
    from app.core.faces import AnalyserPool
    from app.core.scorer import Scorer
    from app.core.weights import ModelFiles

log = logging.getLogger(__name__)

# 1: score and embedding. 2: technical quality, scene hash, marks from XMP sidecars and files.
# 3: focus independent of exposure, blur width, motion smear, lost highlights and shadows as patches.
# 4: faces (boxes, blinks, focus inside each face) when face checks are on.
ANALYSIS_VERSION = 4

SidecarMarks = tuple[int | None, bool, bool]  # (stars, rejected, picked), as other tools write them
MarksReader = Callable[[scanner.ScanEntry], "SidecarMarks | None"]


def photo_extras(decoded: decode.DecodedPhoto, faces: AnalyserPool | None = None) -> dict:
    """What analysis keeps besides the score, computed in the decoder threads; with a face model,
    the faces too (their JSON), or why face checks stopped ("faces_off")."""
    extras: dict = {
        "quality": quality.measure_quality(decoded.image, (decoded.width, decoded.height)),
        "scene_hash": quality.scene_hash(decoded.image),
    }
    if faces is not None:
        from app.core import faces as face_checks

        try:
            report = faces.analyse(decoded.image)
        except FacesUnavailable as exc:  # the model stopped running: the photo keeps the rest
            extras["faces_off"] = str(exc)
            return extras
        except PhotoError as exc:
            # This photo's faces cannot be read (logged by the core): recorded as none found, so it
            # is not decoded again at every run; its score and quality stand.
            log.warning("no face checks for a photo: %s", exc.reason)
            report = face_checks.FaceReport((), faces.model.sha256[:16])
        extras["faces"] = report.to_json()
        extras["closed_eyes"] = report.closed_eyes
    return extras


def count_closed_eyes(engine: Engine) -> int:
    """Photos whose faces were stored before closed eyes were counted (schema 6) get their count from
    those faces, without being decoded again; returns how many were counted."""
    from app.core.faces import FaceReport

    counts = []
    for photo_id, text in repo.faces_without_count(engine):
        try:
            counts.append((photo_id, FaceReport.from_json(text).closed_eyes))
        except (ValueError, KeyError, TypeError):  # unreadable: looked for again at the next analysis
            counts.append((photo_id, None))
    repo.set_closed_eyes(engine, counts)
    return len(counts)


def read_marks(path: Path, companion: Path | None = None, embedded: bool = True,
               on_problem: Callable[[str], None] | None = None) -> SidecarMarks | None:
    """Marks other tools left, as (stars, rejected, picked): the photo's XMP sidecar, else its RAW
    companion's (darktable writes IMG.CR2.xmp), else (when embedded) the file's own rating."""
    for photo in [path] + ([companion] if companion else []):
        try:
            info = xmp.read_sidecar(photo, on_problem)  # one it can't read is told and read as none
        except Exception:  # a bug: logged with its traceback, and the scan goes on without this sidecar
            log.exception("the sidecar of %s could not be read", photo)
            continue
        if info is not None and (info.rating is not None or info.pick is not None):
            stars, rejected = ratings.from_xmp_rating(info.rating)
            return stars, rejected, bool(info.pick)
    rating = xmp.read_embedded_rating(path) if embedded else None
    if rating is None:
        return None
    stars, rejected = ratings.from_xmp_rating(rating)
    return stars, rejected, False


def _sidecar_marks(problems: list[str]) -> MarksReader:
    """What a scan reads marks with; sidecars it cannot read (too large, not a file, damaged) go
    into `problems`, which the scan's caller shows: the photo itself is scanned as usual."""
    def read(entry: scanner.ScanEntry) -> SidecarMarks | None:
        return read_marks(Path(entry.path), Path(entry.companion) if entry.companion else None, embedded=False,
                          on_problem=problems.append)
    return read


# --- inventory: what a scan found, weighed against what the library knew ---------------------

@dataclass
class SyncReport:
    new: int = 0
    changed: int = 0
    moved: int = 0
    missing: int = 0
    unchanged: int = 0
    returned: int = 0
    offline: bool = False


def stored_marks(marks: SidecarMarks) -> tuple[int, str]:
    """Marks another tool wrote, as the library keeps them: (rating, flag)."""
    stars, rejected, picked = marks
    flag = ratings.Flag.REJECT if rejected else (ratings.Flag.PICK if picked else ratings.Flag.NONE)
    return stars or 0, flag.value


def sync_root(engine: Engine, root: repo.Root, entries: Sequence[scanner.ScanEntry], unreadable: Sequence[str] = (),
              read_marks: MarksReader | None = None) -> SyncReport:
    return sync_entries(engine, root.id, entries, root.path, unreadable, read_marks)


def sync_entries(engine: Engine, root_id: int | None, entries: Sequence[scanner.ScanEntry],
                 folder: str | None = None, unreadable: Sequence[str] = (),
                 read_marks: MarksReader | None = None) -> SyncReport:
    """Bring the database in line with what a scan of `folder` found (or, without a folder,
    with these files only: nothing else is marked missing). root_id None: not in a library root.

    Unchanged files (same size and mtime) cost nothing; a changed one is hashed only when its
    size is the same; a new file whose size matches a missing photo is hashed to find a move.
    Hashing happens before the write transactions, so another process never waits on it.
    Photos under `unreadable` folders are left as they were (their folder could not be listed).
    When an entry's XMP sidecar changed, read_marks gives the marks another tool left there.
    """
    report = SyncReport()
    entries = list({e.path: e for e in entries}.values())  # a file named twice is one photo
    known = repo.stored_files(engine, folder, () if folder is not None else [e.path for e in entries])
    new_entries = [e for e in entries if e.path not in known]
    by_size = repo.files_by_size(engine) if new_entries else {}
    found = {e.path for e in entries}
    # A removed photo (moved to the trash or rejects by Aesthete) stays removed until undone.
    gone = [r for p, r in known.items() if p not in found and r.state not in ("missing", "removed")
            and not any(is_under(p, u, or_same=False) for u in unreadable)]
    gone_ids = {r.id for r in gone}
    changed = [e for e in entries if e.path in known and
               (known[e.path].size != e.size or known[e.path].mtime_ns != e.mtime_ns
                or known[e.path].state != "present" or known[e.path].companion != e.companion)]
    # Hash outside any transaction: same-size changed files, and new files that may be moves.
    digests: dict[str, str | None] = {}
    for e in changed:
        old = known[e.path]
        if (old.size, old.mtime_ns) != (e.size, e.mtime_ns) and old.size == e.size and not e.error:
            digests[e.path] = _safe_hash(e.path)
    for e in new_entries:
        candidates = by_size.get(e.size)
        if candidates and not e.error and any(c.id in gone_ids or c.state == "missing" for c in candidates):
            digests[e.path] = _safe_hash(e.path)
    repo.mark_missing(engine, gone)
    report.missing = len(gone)
    # Only photos missing now can be the source of a move.
    missing_now = gone_ids | repo.missing_ids(engine)
    report.unchanged = len(entries) - len(new_entries) - len(changed)
    fresh_marks: set[str] = set()  # changed files that took a gone photo's place: sidecars read anew
    updates: list[repo.FileUpdate] = []
    for e in changed:
        old = known[e.path]
        update = repo.FileUpdate(old.id, e.size, e.mtime_ns, e.companion, error=e.error)
        if old.size != e.size or old.mtime_ns != e.mtime_ns:
            digest = digests.get(e.path)
            if digest is None or digest != old.content_hash:
                # Edited in place, a photo keeps its marks; but a different file where a gone or
                # removed photo was (camera numbering restarted) is a new photo: it must not
                # inherit a reject that the next removal would act on.
                forget = old.state in ("missing", "removed")
                if forget:
                    fresh_marks.add(e.path)
                update = replace(update, new_content=True, content_hash=digest, forget_marks=forget)
                report.changed += 1
            else:
                report.unchanged += 1
        else:
            report.returned += 1
        updates.append(update)
    repo.update_files(engine, updates)
    moves: list[repo.FileMove] = []
    fresh: list[repo.NewFile] = []
    for e in new_entries:
        digest = digests.get(e.path)
        candidates = [c for c in by_size.get(e.size, ()) if c.id in missing_now]
        match = next((c for c in candidates if digest and c.content_hash == digest), None)
        if match:
            by_size[e.size].remove(match)
            if match.id in gone_ids:
                report.missing -= 1  # gone from its old path in this scan: moved, not missing
            moves.append(repo.FileMove(match.id, root_id, e.path, e.mtime_ns, e.companion))
            continue
        problem = None
        if e.error or e.unsupported:
            problem = ("unsupported" if e.unsupported else "error", e.error or _unsupported_reason(e.path))
        fresh.append(repo.NewFile(root_id, e.path, e.size, e.mtime_ns, digest, e.companion, problem))
    repo.move_files(engine, moves)
    report.moved = len(moves)
    repo.add_files(engine, fresh)
    report.new = len(fresh)
    if read_marks is not None:
        _import_marks(engine, [e for e in entries if e.sidecar_mtime_ns and
                               (e.path not in known or e.path in fresh_marks
                                or known[e.path].sidecar_mtime_ns != e.sidecar_mtime_ns)],
                      read_marks)
    return report


def _import_marks(engine: Engine, entries: Sequence[scanner.ScanEntry], read_marks: MarksReader) -> None:
    """Marks from sidecars that changed since we last read them: the newer word wins. The marks
    are noted before the sidecars are read, so that one made while they are read is kept."""
    seen = repo.marks_at(engine, [e.path for e in entries])
    reads = []
    for e in entries:
        if e.path in seen:
            marks = read_marks(e)
            reads.append(repo.SidecarRead(e.path, e.sidecar_mtime_ns, seen[e.path],
                                          None if marks is None else stored_marks(marks)))
    repo.save_sidecar_reads(engine, reads)


def _safe_hash(path: str) -> str | None:
    try:
        return decode.hash_file(Path(path))
    except OSError:
        return None


def _unsupported_reason(path: str) -> str:
    return formats.UNSUPPORTED.get(os.path.splitext(path)[1].lower(), "unsupported format")


@dataclass
class ScanSummary:
    roots: list[repo.Root] = field(default_factory=list)
    reports: dict[str, SyncReport] = field(default_factory=dict)
    skipped_other: int = 0
    folder_errors: list[str] = field(default_factory=list)
    sidecar_problems: list[str] = field(default_factory=list)  # sidecars whose marks could not be read
    added: list[str] = field(default_factory=list)  # folders that joined the library in this scan
    absorbed: list[str] = field(default_factory=list)  # library folders now inside an added one


def scan_folders(engine: Engine, settings: Settings, folders: Iterable[Path | str] | None = None,
                 add: bool = True) -> ScanSummary:
    """Scan folders (adding them as roots when `add`), or every root when folders is None."""
    summary = ScanSummary()
    if folders is None:
        targets = repo.list_roots(engine)
    else:
        before = {r.path for r in repo.list_roots(engine)}
        folders = [os.path.abspath(os.fspath(f)) for f in folders]
        for f in folders:
            for export in journal.export_folders(engine):  # named on purpose: it joins the library
                if is_under(f, export):
                    journal.forget_export(engine, export)
        targets = [repo.add_root(engine, f) if add else _root_for(engine, f) for f in folders]
        after = {r.path for r in repo.list_roots(engine)}
        summary.added, summary.absorbed = sorted(after - before), sorted(before - after)
    rejects = excluded_folders(engine, settings)
    seen: set[int] = set()
    for root in targets:
        if root.id in seen:
            continue
        seen.add(root.id)
        summary.roots.append(root)
        if not os.path.isdir(root.path):
            repo.mark_offline(engine, root.id)
            summary.reports[root.path] = SyncReport(offline=True)
            log.warning("library root %s is unreachable; its photos are offline", root.path)
            continue
        result = scanner.scan(root.path, settings.exclude, rejects)
        summary.skipped_other += result.skipped_other
        summary.folder_errors += result.folder_errors
        if root.path in result.unreadable or (not result.entries and root.photo_count):
            # An unreadable root, or an empty mount point where photos were: unplugged, not deleted.
            repo.mark_offline(engine, root.id)
            summary.reports[root.path] = SyncReport(offline=True)
            log.warning("library root %s is unreadable or empty; its photos are offline", root.path)
            continue
        summary.reports[root.path] = sync_root(engine, root, result.entries, result.unreadable,
                                                    _sidecar_marks(summary.sidecar_problems))
    return summary


def excluded_folders(engine: Engine, settings: Settings) -> list[str]:
    """Folders scans skip: the rejects folder, every folder removals went to, and every folder
    picks were exported to."""
    return ([settings.rejects_folder] if settings.rejects_folder else []) + journal.targets(engine) \
        + journal.export_folders(engine)


def sync_folder(engine: Engine, settings: Settings, root_id: int, folder: str,
                skip: Iterable[str] = (), extra: Iterable[scanner.ScanEntry] = ()) -> tuple[SyncReport, list[str]]:
    """Rescan one folder of a root (the watcher's unit of work): entries in `skip` are left out,
    `extra` entries are taken as found. Returns the report and the folders that could not be read."""
    skip = set(skip)
    entries: list[scanner.ScanEntry] = list(extra)
    unreadable: list[str] = []
    problems: list[str] = []
    if os.path.isdir(folder):
        result = scanner.scan(folder, settings.exclude, excluded_folders(engine, settings))
        entries += [e for e in result.entries if e.path not in skip]
        unreadable, problems = result.unreadable, result.folder_errors
    sidecars: list[str] = []
    report = sync_entries(engine, root_id, entries, folder, unreadable, _sidecar_marks(sidecars))
    problems = list(problems) + [f"sidecar ignored: {p}" for p in sidecars]
    return report, problems


def _root_for(engine: Engine, folder: Path | str) -> repo.Root:
    folder = os.path.abspath(os.fspath(folder))
    for root in repo.list_roots(engine):
        if is_under(folder, root.path):
            return root
    return repo.add_root(engine, folder)


class ModelHolder:
    """Loads the Scorer on first use, once per process, so cached runs never load it."""

    def __init__(self, settings: Settings, cancel: threading.Event | None = None,
                 allow_download: bool = True, on_load: Callable[[Scorer], None] | None = None,
                 on_status: Callable[[str], None] | None = None):
        self.settings = settings
        self.on_status = on_status  # long one-time steps while loading (preparing the ONNX encoder)
        self.cancel = cancel or threading.Event()
        self.allow_download = allow_download
        self.on_load = on_load
        self._scorer: Scorer | None = None
        self._files: ModelFiles | None = None
        self._faces: AnalyserPool | None = None
        self.faces_off: str | None = None  # why face checks are off, once faces() has looked

    def faces(self) -> AnalyserPool | None:
        """The face model's analysers when face checks can run, else None with faces_off saying why
        (logged once). Only the file the setting names or the pinned copy already in the cache, never
        a download here (`aesthete download` fetches it): a run offline goes on without face checks."""
        if self._faces is None and self.faces_off is None:
            from app.core import faces

            try:
                model = faces.resolve_faces_model(self.settings.faces_model or None, allow_download=False)
                # Loading it here (in the thread that resolves, never the GUI's) turns a missing
                # mediapipe or a model it cannot run into "off" before any photo is analysed.
                self._faces = faces.AnalyserPool(model).load()
            except FacesUnavailable as exc:
                self.face_checks_off(str(exc))
        return self._faces

    def face_checks_off(self, why: str) -> None:
        if self.faces_off is None:
            log.warning("%s", why)
        self.faces_off = why
        if self._faces is not None:
            self._faces.close()
        self._faces = None

    @property
    def model(self) -> str:
        """The model the settings chose (app.config.models): its files, key and preprocessing."""
        return self.settings.model

    def files(self) -> ModelFiles:
        """Locate the weights (downloading when allowed) without loading the model."""
        if self._files is None:
            from app.core.weights import locate_for  # torch-free: `list` needs only the key

            self._files = locate_for(self.settings, self.allow_download)
        return self._files

    def key(self) -> str:
        return str(self.files().key)

    @property
    def loaded(self) -> Scorer | None:
        return self._scorer

    def get(self) -> Scorer:
        if self._scorer is None:
            from app.core.scorer import Scorer

            s = self.settings
            self._scorer = Scorer(self.files(), s.device, s.precision, self.cancel, s.runtime, self.on_status,
                                  s.batch_size or None)
            if self.on_load:
                self.on_load(self._scorer)
        return self._scorer

    def batch_size(self) -> int:
        """Photos per model batch: the setting, else what suits the loaded (or the chosen) engine."""
        if self.settings.batch_size:
            return self.settings.batch_size
        if self._scorer is not None:
            return self._scorer.batch_size
        from app.core.scorer import default_batch_size

        s = self.settings
        return default_batch_size(s.device, s.precision, s.runtime, self.model)

    def wanted_precision(self) -> str | None:
        """The precision a scan must have: only an explicit choice narrows 'already scored'."""
        s = self.settings
        if not s.explicit("precision") or s.precision == "auto":
            return None
        from app.core.scorer import precision_label

        return precision_label(s.device, s.precision, s.runtime, self.files().encoder.key, self.model)


def pending(engine: Engine, holder: ModelHolder, **kw) -> list[repo.Pending]:
    """What needs this model's score, or this release's analysis, among present photos."""
    count_closed_eyes(engine)
    return repo.pending(engine, holder.key(), holder.wanted_precision(), analysis_version=ANALYSIS_VERSION,
                        faces=holder.faces() is not None, **kw)


@dataclass
class AnalysisSummary:
    scored: int = 0
    updated: int = 0  # analysed again without the model (a newer analysis version)
    failed: int = 0
    times: StageTimes = field(default_factory=StageTimes)
    cancelled: bool = False
    faces_off: str | None = None  # why these photos were analysed without face checks


def analyse(engine: Engine, holder: ModelHolder, items: list[repo.Pending],
            on_result: Callable[[PhotoResult, repo.Pending], None] | None = None,
            batch_size: int | None = None) -> AnalysisSummary:
    """Score items, storing each model batch's results in one transaction as they arrive (a failed
    photo's error at once), then calling on_result for each."""
    s = holder.settings
    summary = AnalysisSummary()
    if not items:
        return summary
    by_id = {p.id: p for p in items}
    from app.core.scorer import pick_device

    device = pick_device(s.device)
    if batch_size is None:
        batch_size = holder.batch_size()
    workers = s.decode_workers or default_workers(device.type)
    jobs = ((p.id, Path(p.path)) for p in items)
    faces = holder.faces()
    extra = functools.partial(photo_extras, faces=faces)

    done: list[tuple[PhotoResult, repo.Pending, repo.Analysis]] = []
    waiting = {"scored": 0, "updated": 0}  # in `done`

    def store() -> None:
        """Save what has arrived in one transaction, then report each photo (a photo that could
        not be saved is not reported: the GUI queues it again, the CLI finds it pending)."""
        batch = list(done)
        done.clear()
        waiting.update(scored=0, updated=0)
        t0 = time.perf_counter()
        repo.save_scores(engine, [analysis for _, _, analysis in batch])
        summary.times.store += time.perf_counter() - t0
        if on_result:
            for result, item, _ in batch:
                on_result(result, item)

    try:
        for result in score_stream(jobs, holder.get, batch_size, workers, holder.cancel, extra=extra,
                                   times=summary.times, needs_model=lambda key: by_id[key].needs_score,
                                   pixels_of=preprocess.for_model(holder.model)):
            item = by_id[result.key]
            if result.error is not None:
                t0 = time.perf_counter()
                repo.save_error(engine, result.key, result.error)
                summary.times.store += time.perf_counter() - t0
                summary.failed += 1
                if on_result:
                    on_result(result, item)
                continue
            if "faces_off" in result.extras:
                holder.face_checks_off(result.extras.pop("faces_off"))
            t0 = time.perf_counter()
            found = read_marks(result.path, Path(item.companion) if getattr(item, "companion", None) else None)
            result.extras["marks"] = None if found is None else stored_marks(found)
            summary.times.store += time.perf_counter() - t0
            if result.score is not None:
                scorer = holder.get()
                analysis = repo.Analysis(result.key, str(scorer.key), scorer.label, result.score, result.embedding,
                                         result.decoded, ANALYSIS_VERSION, result.extras)
                summary.scored += 1
                waiting["scored"] += 1
            else:
                analysis = repo.Analysis(result.key, None, None, None, None, result.decoded, ANALYSIS_VERSION,
                                         result.extras)
                summary.updated += 1
                waiting["updated"] += 1
            done.append((result, item, analysis))
            # A model batch arrives all at once: it is stored in one transaction (with any photos
            # analysed again without the model since the last one).
            if waiting["scored"] >= batch_size or waiting["updated"] >= batch_size:
                store()
        store()
    except Cancelled:
        store()  # what was scored before the stop is kept
        summary.cancelled = True
    except BaseException:
        try:  # keep what was scored before the error, when the library still takes it
            store()
        except Exception:
            log.exception("the results gathered before the error could not be saved")
        raise
    summary.faces_off = holder.faces_off
    return summary
