"""Best shots and culling over the library (no Qt): groups with explained picks, cull candidates,
safe removal through the journal, undo, marks with XMP sidecars, and export of the picks.

The CLI and the GUI both call these; nothing here deletes a file: removal moves to the system
trash or the rejects folder, and undo puts files back byte for byte.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.config.settings import Settings
from app.core import bestpick, cullrules, grouping, removal, taste as taste_model, xmp
from app.core.faces import FaceReport
from app.core.cullrules import RuleError  # noqa: F401 (what cull_rules raises, for the callers)
from app.errors import AestheteError, DatabaseError
from app.core.quality import QualityThresholds, TechnicalQuality, exposure_faults, faults
from app.pathutil import deepest_folder, is_under
from app.storage import journal, marks, repo

log = logging.getLogger(__name__)


@dataclass
class Member:
    row: repo.CurationRow
    quality: TechnicalQuality | None
    faults: list[str]  # in words: alone, or next to the other frames of its group once grouped
    faces: FaceReport | None = None  # None: faces not looked for (face checks off, or analysed before)


@dataclass
class GroupView:
    id: int  # the smallest member id: stable while the group's members stay
    kind: str
    members: list[Member]
    pick_id: int
    reason: str
    member_faults: dict[int, tuple] = field(default_factory=dict)  # photo id -> its Faults next to the others
    thresholds: QualityThresholds = QualityThresholds()  # what it was judged with, for choosing again
    lineup: bestpick.Lineup | None = None  # its frames' faces person by person; None: no faces shown
    taste: dict[int, float] = field(default_factory=dict)  # the taste model's tie-breaker (core.taste)

    @property
    def pick(self) -> Member:
        return next(m for m in self.members if m.row.id == self.pick_id)


@dataclass
class CullItem:
    member: Member
    findings: tuple[tuple[str, str], ...]  # (cull rule or "rejected", reason in words)

    @property
    def reasons(self) -> tuple[str, ...]:
        return cullrules.CullCandidate(self.member.row.id, self.findings).reasons

    @property
    def rules(self) -> tuple[str, ...]:
        return cullrules.CullCandidate(self.member.row.id, self.findings).rules


@dataclass
class CullList:
    items: list[CullItem]  # worst first
    rules: frozenset[str]
    below: float
    group_of: dict[int, int] = field(default_factory=dict)  # photo id -> its group's id, for photos in groups

    @property
    def by_rule(self) -> dict[str, int]:
        """Candidates each rule names (a photo named by two counts under both)."""
        return cullrules.count_by_rule(cullrules.CullCandidate(i.member.row.id, i.findings) for i in self.items)

    @property
    def scenes_lost(self) -> int:
        """Groups every frame of which is a candidate: only the score rule or the user's rejects do that."""
        size: dict[int, int] = {}
        for gid in self.group_of.values():
            size[gid] = size.get(gid, 0) + 1
        taken: dict[int, int] = {}
        for i in self.items:
            gid = self.group_of.get(i.member.row.id)
            if gid is not None:
                taken[gid] = taken.get(gid, 0) + 1
        return sum(1 for gid, n in taken.items() if n == size[gid])

    def rules_text(self) -> str:
        """The rules in words, the score rule with its threshold: "score (below 4), blur, extra"."""
        return ", ".join(f"score (below {self.below:g})" if r == "score" else r
                         for r in cullrules.RULES if r in self.rules)

    def counts_text(self) -> str:
        """Candidates per rule that is on (and the user's rejects): "score 3, blur 0, rejected 1"."""
        counts = self.by_rule
        return ", ".join(f"{r} {counts.get(r, 0)}" for r in [*cullrules.RULES, cullrules.REJECTED]
                         if r in self.rules or counts.get(r))

    def restrict(self, rules: Iterable[str]) -> CullList:
        """The same candidates under fewer rules, without grouping and judging again."""
        rules = frozenset(rules) & self.rules
        items = []
        for i in self.items:
            kept = cullrules.restrict([cullrules.CullCandidate(i.member.row.id, i.findings)], rules)
            if kept:
                items.append(CullItem(i.member, kept[0].findings))
        return CullList(items, rules, self.below, self.group_of)


def grouping_settings(settings: Settings) -> grouping.GroupingSettings:
    return grouping.GroupingSettings(burst_window_s=settings.burst_window_s,
                                     scene_max_distance=settings.scene_max_distance)


def _quality(row: repo.CurationRow) -> TechnicalQuality | None:
    try:
        return TechnicalQuality.from_dict(row.quality) if row.quality else None
    except (KeyError, TypeError, ValueError):  # measured by an older release: judged once analysed again
        return None


def quality_thresholds(settings: Settings) -> QualityThresholds:
    return QualityThresholds(out_of_focus_px=settings.out_of_focus_px, motion_px=settings.motion_blur_px,
                             lost_highlights=settings.lost_highlights)


def _faces(row: repo.CurationRow) -> FaceReport | None:
    try:
        return FaceReport.from_json(row.faces) if row.faces else None
    except (KeyError, TypeError, ValueError):  # damaged or from another release: as if not looked for
        log.warning("the faces stored for %s cannot be read", row.path)
        return None


def _member(row: repo.CurationRow, thresholds: QualityThresholds) -> Member:
    q = _quality(row)
    return Member(row, q, [f.text for f in faults(q, thresholds)] if q else [], _faces(row))


def _exposure_differs(q: TechnicalQuality | None, thresholds: QualityThresholds = QualityThresholds()) -> bool:
    # Clipping wipes out detail the scene hash sees, so such a frame may lie a little further from its scene.
    return q is not None and (bool(exposure_faults(q, thresholds)) or q.clipped_highlights + q.crushed_shadows >= 0.05)


def file_sequences(paths: dict[int, str]) -> dict[int, tuple[str, int]]:
    """Each photo's place among its folder's photos in name order: frames shot one after another."""
    out: dict[int, tuple[str, int]] = {}
    by_folder: dict[str, list[tuple[str, int]]] = {}
    for pid, path in paths.items():
        by_folder.setdefault(os.path.dirname(path), []).append((os.path.basename(path), pid))
    for folder, names in by_folder.items():
        for i, (_name, pid) in enumerate(sorted(names)):
            out[pid] = (folder, i)
    return out


def photo_facts(row: repo.CurationRow, q: TechnicalQuality | None, thresholds: QualityThresholds = QualityThresholds(),
                sequence: tuple[str, int] | None = None) -> grouping.PhotoFacts:
    return grouping.PhotoFacts(row.id, row.content_hash, row.captured_at, row.scene_hash, row.embedding,
                               exposure_fault=_exposure_differs(q, thresholds),
                               spoiled=q is not None and bool(faults(q, thresholds)), sequence=sequence,
                               badly_exposed=q is not None and bool(exposure_faults(q, thresholds)))


def _candidates(members: Sequence[Member], taste: dict[int, float] | None = None) -> list[bestpick.Candidate]:
    taste = taste or {}
    return [bestpick.Candidate(m.row.id, m.row.score, m.quality, user_pick=m.row.flag == "pick",
                               user_reject=m.row.flag == "reject", rating=m.row.rating, faces=m.faces,
                               taste=taste.get(m.row.id))
            for m in members]


def pick_group(members: Sequence[Member], thresholds: QualityThresholds = QualityThresholds(),
               taste: dict[int, float] | None = None) -> bestpick.Pick:
    """The keeper of a group (the user's marks first), with each member's faults next to the others
    (set on the members in words); taste (app.core.taste.tie_breaker) breaks ties on score."""
    pick = bestpick.best_pick(_candidates(members, taste), thresholds)
    for m in members:
        m.faults = [f.text for f in pick.faults.get(m.row.id, ())]
    return pick


def load_groups(engine: Engine, settings: Settings, under: str | None = None,
                rows: Sequence[repo.CurationRow] | None = None) -> list[GroupView]:
    """Groups of exact copies, bursts and similar shots under a folder, each with its pick."""
    rows = rows if rows is not None else repo.curation_rows(engine, under)
    thresholds = quality_thresholds(settings)
    by_id = {r.id: _member(r, thresholds) for r in rows}
    sequences = file_sequences({r.id: r.path for r in rows})
    facts = [photo_facts(r, by_id[r.id].quality, thresholds, sequences.get(r.id)) for r in rows]
    out = []
    groups = grouping.group_photos(facts, grouping_settings(settings))
    taste = taste_model.tie_breaker({i: by_id[i].row.embedding for g in groups for i in g.members})
    for g in groups:
        # Frames in the order they were taken, as the photographer shot them.
        members = sorted((by_id[i] for i in g.members), key=lambda m: (m.row.captured_at or 0.0, m.row.name))
        group = GroupView(min(g.members), g.kind, members, 0, "", {}, thresholds,
                          {m.row.id: taste[m.row.id] for m in members if m.row.id in taste})
        judge_group(group)
        out.append(group)
    out.sort(key=lambda g: (min((m.row.captured_at or 0) for m in g.members), g.id))
    return out


IDENTICAL_FILES = "identical files: the one first seen in the library is kept"


def judge_group(group: GroupView) -> None:
    """Choose the group's pick and say why, from its members' marks and measures: when it is
    loaded, and again in the views after its marks change, so both say the same."""
    pick = pick_group(group.members, group.thresholds, group.taste)
    reason = pick.reason
    if group.kind == "exact" and pick.photo_id == group.id and not any(m.row.flag or m.row.rating
                                                                        for m in group.members):
        # Byte-identical files score and measure alike: focus or score cannot tell them apart.
        reason = IDENTICAL_FILES
    group.pick_id, group.reason, group.member_faults = pick.photo_id, reason, dict(pick.faults)
    group.lineup = bestpick.face_lineup(_candidates(group.members))


def cull_rules(settings: Settings, rules: Iterable[str] | str | None = None,
               below: float | None = None) -> tuple[frozenset[str], float]:
    """The rules and score threshold a cull applies: the named rules when given; otherwise only the
    score rule when a threshold alone is given; otherwise the cull_rules setting."""
    if rules is not None:
        chosen = cullrules.parse_rules(rules)
    elif below is not None:
        chosen = frozenset({"score"})
    else:
        chosen = cullrules.parse_rules(settings.cull_rules)
    return chosen, settings.cull_threshold if below is None else below


def cull_list(engine: Engine, settings: Settings, under: str | None = None, below: float | None = None,
              rules: Iterable[str] | str | None = None) -> CullList:
    """Cull candidates under the chosen rules (see cull_rules), each with its rules and reasons, worst
    first; starred or picked photos never are, and a group's pick only by score or the user's reject."""
    chosen, threshold = cull_rules(settings, rules, below)
    rows = repo.curation_rows(engine, under)
    groups = load_groups(engine, settings, rows=rows)
    in_group = {m.row.id: (g, m) for g in groups for m in g.members}
    thresholds = quality_thresholds(settings)
    members = {r.id: _member(r, thresholds) for r in rows}
    pick_faults = {pid: fs for g in groups for pid, fs in g.member_faults.items()}
    facts = []
    for r in rows:
        g, m = in_group.get(r.id, (None, None))
        if m is not None:
            members[r.id] = m
        facts.append(cullrules.CullFacts(
            r.id, r.score, members[r.id].quality, rating=r.rating, user_pick=r.flag == "pick",
            user_reject=r.flag == "reject", group_pick_id=g.pick_id if g else None,
            group_kind=g.kind if g else None, group_pick_name=g.pick.row.name if g else None,
            group_faults=pick_faults.get(r.id) if g else None))
    candidates = cullrules.cull_candidates(facts, cullrules.CullSettings(below=threshold, rules=chosen), thresholds)
    items = [CullItem(members[c.photo_id], c.findings) for c in candidates]
    # Worst first: the lowest scores, then the unscored (flagged for faults alone), then by name.
    items.sort(key=lambda it: (it.member.row.score is None, it.member.row.score or 0.0, it.member.row.name.lower()))
    return CullList(items, chosen, threshold, {m.row.id: g.id for g in groups for m in g.members})


# --- marks -------------------------------------------------------------------------------------

def set_marks(engine: Engine, settings: Settings, ids: Iterable[int], stars: int | None = None,
              flag: str | None = None) -> list[str]:
    """Rate and/or flag photos; with write_xmp, mirror the marks into XMP sidecars.
    Returns plain-words problems with sidecars (the marks in the library are set regardless)."""
    ids = list(ids)
    if stars is not None:
        marks.set_rating(engine, ids, stars)
    if flag is not None:
        marks.set_flag(engine, ids, flag)
    problems = []
    if settings.write_xmp:
        for m in marks.marks_of(engine, ids):
            try:
                xmp.write_sidecar(Path(m.path), m.rating or None, m.flag == "reject", m.flag == "pick")
            except (xmp.SidecarError, OSError, ValueError) as exc:
                problems.append(f"{m.path}: sidecar not written ({exc})")
                log.warning("sidecar for %s not written: %s", m.path, exc)
            except Exception as exc:  # a bug: logged with its traceback, and the other photos still get theirs
                problems.append(f"{m.path}: sidecar not written (unexpected error: {type(exc).__name__}: {exc})")
                log.exception("sidecar for %s not written", m.path)
    return problems


def pick_in_group(engine: Engine, settings: Settings, group: GroupView, photo_id: int) -> None:
    """The user's choice of keeper: kept as a pick mark, so it survives rescans and moves."""
    others = [m.row.id for m in group.members if m.row.id != photo_id and m.row.flag == "pick"]
    if others:
        set_marks(engine, settings, others, flag="")
    set_marks(engine, settings, [photo_id], flag="pick")


# --- removal, undo, repair ---------------------------------------------------------------------

@dataclass
class RemovalReport:
    removal_id: int | None = None
    moved: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "path: reason"


def _files_of(row_path: str, companion: str | None) -> list[str]:
    """A photo's files that move together: the photo, its RAW companion and their sidecars."""
    files = [row_path] + ([companion] if companion else [])
    seen = {os.path.normcase(os.path.realpath(f)) for f in files}
    for f in list(files):
        for sidecar in (f + ".xmp", f + ".XMP", os.path.splitext(f)[0] + ".xmp", os.path.splitext(f)[0] + ".XMP"):
            key = os.path.normcase(os.path.realpath(sidecar))
            if os.path.isfile(sidecar) and key not in seen:  # x.xmp and x.XMP may be one file
                seen.add(key)
                files.append(sidecar)
    return files


def remove_photos(engine: Engine, settings: Settings, photo_ids: Sequence[int],
                  rejects_folder: str | None = None, trash: bool | None = None) -> RemovalReport:
    """Move photos (with their companions and sidecars) to the trash or the rejects folder.

    The journal is written before anything moves, with the rejects folder as an absolute, resolved
    path (so a repair or undo from any folder finds the files). A photo's files move whole or not
    at all: when one of them cannot move, those already moved go back. Raises DatabaseError when the
    journal cannot be written, saying what had moved (the next start's repair finds it)."""
    folder = None if trash else (rejects_folder or settings.rejects_folder or None)
    if folder is not None:
        folder = os.path.realpath(os.path.expanduser(folder))
    report = RemovalReport()
    wanted = set(photo_ids)
    rows = {p.id: p for p in repo.list_photos(engine, include_missing=True) if p.id in wanted}
    planned: list[tuple[int | None, str, str]] = []
    for pid in photo_ids:
        p = rows.get(pid)
        if p is None or p.state != "present":
            continue
        files: list[tuple[int | None, str, str]] = []
        for i, f in enumerate(_files_of(p.path, p.companion)):
            try:
                files.append((pid if i == 0 else None, f, removal.file_sha256(Path(f))))
            except FileNotFoundError:
                report.failed.append(f"{f}: moved away or deleted since it was scanned (by another cull or "
                                     "program?); nothing to move")
                break
            except OSError as exc:
                report.failed.append(f"{f}: {exc.strerror or exc}")
                break
        else:
            planned += files  # a photo whose files cannot all be read does not move at all
    if not planned:
        return report
    where = folder or "the system trash"
    rid = _journal(engine, where, report, lambda: journal.plan(engine, folder, planned))
    report.removal_id = rid
    roots = repo.list_roots(engine)
    for files in _by_photo(journal.get(engine, rid).files):
        done: list[tuple[journal.JournalFile, removal.Moved]] = []
        for jf in files:
            try:
                if folder is None:
                    moved = removal.move_to_trash(Path(jf.source), jf.sha256)
                else:
                    root = next((Path(r.path) for r in roots if is_under(jf.source, r.path, or_same=False)), None)
                    moved = removal.move_to_folder(Path(jf.source), Path(folder), root, jf.sha256)
            except (removal.RemovalError, OSError) as exc:
                _move_back(engine, where, report, done, jf, files, exc)
                break
            report.moved.append(jf.source)
            _journal(engine, where, report, lambda: journal.mark_file(
                engine, jf.id, "moved", str(moved.destination), photo_state="removed" if jf.photo_id else None))
            done.append((jf, moved))
    _journal(engine, where, report, lambda: journal.set_state(engine, rid, "partial" if report.failed else "done"))
    return report


def _by_photo(files: Sequence[journal.JournalFile]) -> list[list[journal.JournalFile]]:
    """The journal's files in groups that move together (a photo's file comes first, then its
    companions and sidecars)."""
    groups: list[list[journal.JournalFile]] = []
    for jf in files:
        if jf.photo_id is not None or not groups:
            groups.append([])
        groups[-1].append(jf)
    return groups


def _move_back(engine: Engine, where: str, report: RemovalReport, done, failed_file, files, exc) -> None:
    """One file of a photo could not move: put back those of its files that did, and record why."""
    reason = str(exc)
    report.failed.append(f"{failed_file.source}: {reason}")
    for jf, moved in reversed(done):
        try:
            removal.restore(moved)
        except (removal.RemovalError, OSError) as back:  # stays moved, recorded, and undo can still try
            report.failed.append(f"{jf.source}: moved without its companion, and could not be put back ({back})")
            continue
        report.moved.remove(jf.source)
        _journal(engine, where, report, lambda: journal.mark_file(
            engine, jf.id, "restored", error=f"put back: {os.path.basename(failed_file.source)} could not move",
            photo_state="present" if jf.photo_id else None))
    for jf in files[len(done):]:
        _journal(engine, where, report, lambda: journal.mark_file(
            engine, jf.id, "failed", error=reason if jf is failed_file else "its photo's files did not all move"))


def _journal(engine: Engine, where: str, report: RemovalReport, write):
    """A journal write during a removal; when the database cannot take it (a full disk, a
    read-only or damaged database), stop, saying what already moved and how it comes back."""
    try:
        return write()
    except (SQLAlchemyError, DatabaseError) as exc:
        log.exception("the removal journal could not be written")
        cause = getattr(exc, "orig", None) or exc
        moved = len(report.moved)
        raise DatabaseError(
            f"the library database could not record the removal ({cause}); stopped. "
            + (f"{moved} file{'' if moved == 1 else 's'} had already moved to {where}: the next start finds "
               "them, and Undo (`aesthete undo`) puts them back once the database can be written."
               if moved else "Nothing had moved.")) from None


@dataclass
class UndoReport:
    removal_id: int | None = None
    restored: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def undo_last(engine: Engine) -> UndoReport:
    """Put back the files of the last removal; a file whose place is taken is reported, not forced.
    A file an interrupted removal lost track of is looked for again (in place, in the rejects
    folder or the trash), and the removal stays undoable until it is found."""
    op = journal.last_undoable(engine)
    report = UndoReport(op.id if op else None)
    if op is None:
        return report
    emptied: list[Path] = []
    for jf in op.files:
        if jf.state == "lost":
            found, looked = _locate(op, jf)
            if found is None:
                report.failed.append(f"{jf.source}: not found; looked in {looked}")
                continue
            if found == Path(jf.source):
                journal.mark_file(engine, jf.id, "skipped", photo_state="present" if jf.photo_id else None)
                continue
            jf = replace(jf, state="moved", destination=str(found))
        if jf.state != "moved" or not jf.destination:
            continue
        try:
            removal.restore(removal.Moved(Path(jf.source), Path(jf.destination), jf.sha256))
            journal.mark_file(engine, jf.id, "restored", photo_state="present" if jf.photo_id else None)
            report.restored.append(jf.source)
            emptied.append(Path(jf.destination).parent)
        except (removal.RemovalError, OSError) as exc:
            report.failed.append(f"{jf.source}: {exc}")
    if op.target is not None:  # the folders the cull made under the rejects folder, now empty
        rejects = Path(os.path.abspath(op.target))
        for folder in sorted(set(emptied), key=lambda p: len(p.parts), reverse=True):
            removal.prune_empty_folders(folder, rejects)
    journal.set_state(engine, op.id, "partial" if report.failed else "undone")
    return report


@dataclass
class RepairReport:
    """What the repair of removals a crash interrupted found."""

    moved: int = 0  # files found in the trash or rejects folder: undo puts them back
    skipped: int = 0  # files that never moved
    lost: int = 0  # files found in neither place: the removal stays undoable, undo looks again
    swept: int = 0  # partial copies a kill left in the rejects folder, deleted

    def __bool__(self) -> bool:
        return bool(self.moved or self.skipped or self.lost or self.swept)

    def text(self) -> str:
        parts = []
        if self.moved:
            parts.append(f"{self.moved} file{'' if self.moved == 1 else 's'} had moved (`aesthete undo` puts "
                         f"{'it' if self.moved == 1 else 'them'} back)")
        if self.skipped:
            parts.append(f"{self.skipped} had not moved")
        if self.lost:
            parts.append(f"{self.lost} could not be found (undo looks for {'it' if self.lost == 1 else 'them'} again)")
        if self.swept:
            parts.append(f"{self.swept} partial cop{'y' if self.swept == 1 else 'ies'} deleted")
        return "; ".join(parts)


def repair(engine: Engine) -> RepairReport:
    """Finish the journal of removals a crash interrupted: each file is either still in place
    (skipped), found in the trash or rejects folder by its hash (moved), or neither (lost: the
    removal stays undoable and says where it looked). Partial copies the crash left are deleted."""
    report = RepairReport()
    for op in journal.unfinished(engine):
        if op.target is not None:
            report.swept += removal.sweep_partial_copies(Path(os.path.abspath(op.target)),
                                                         [os.path.basename(f.source) for f in op.files])
        for jf in op.files:
            if jf.state != "planned":
                continue
            found, looked = _locate(op, jf)
            if found == Path(jf.source):
                journal.mark_file(engine, jf.id, "skipped")
                report.skipped += 1
            elif found is not None:
                journal.mark_file(engine, jf.id, "moved", str(found), photo_state="removed" if jf.photo_id else None)
                report.moved += 1
            else:
                journal.mark_file(engine, jf.id, "lost", error=f"not found after an interrupted move; looked in {looked}")
                report.lost += 1
        states = {jf.state for jf in journal.get(engine, op.id).files}
        # Nothing moved and nothing lost: there is nothing to undo either.
        journal.set_state(engine, op.id, "partial" if "lost" in states else "done" if "moved" in states else "undone")
    return report


def _locate(op: journal.JournalEntry, jf: journal.JournalFile) -> tuple[Path | None, str]:
    """Where a file of an interrupted removal is now: its own place (never moved), the trash or
    the rejects folder (found by its bytes), or None; and, in words, where it looked."""
    src = Path(jf.source)
    try:
        if src.is_file() and removal.file_sha256(src) == jf.sha256:
            return src, str(src)
    except OSError:
        pass
    if op.target is None:
        return removal.find_in_trash(src, jf.sha256), f"{src.parent} and the trash"
    folder = Path(os.path.abspath(op.target))  # a relative folder (an older release's journal): from here
    return _find_in_folder(folder, src.name, jf.sha256), f"{src.parent} and {folder}"


def _find_in_folder(folder: Path, name: str, sha: str) -> Path | None:
    stem, ext = os.path.splitext(name)
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            if f.startswith(stem) and f.endswith(ext):
                p = Path(dirpath) / f
                try:
                    if removal.file_sha256(p) == sha:
                        return p
                except OSError:
                    continue
    return None


# --- export ------------------------------------------------------------------------------------

def export_list(engine: Engine, settings: Settings, under: str | None,
                keepers: bool = False) -> list[repo.CurationRow]:
    """What an export copies (the photos; their RAW companions go with them): the photos the user
    marked as picks; with keepers, also the automatic keeper of every group."""
    rows = repo.curation_rows(engine, under, with_embeddings=keepers)
    chosen = {r.id for r in rows if r.flag == "pick"}
    if keepers:
        chosen |= {g.pick_id for g in load_groups(engine, settings, rows=rows)}
    return [r for r in rows if r.id in chosen]


def picks(engine: Engine, settings: Settings, under: str | None = None) -> list[repo.CurationRow]:
    """The keepers: the pick of every group plus every photo the user marked as a pick."""
    return export_list(engine, settings, under, keepers=True)


class ExportError(AestheteError):
    """The picks cannot go there (a folder of the library itself)."""


@dataclass
class ExportReport:
    copied: list[Path] = field(default_factory=list)
    already: list[Path] = field(default_factory=list)  # an identical copy was there from an earlier export


def check_export_dest(engine: Engine, dest: Path) -> Path:
    """The export folder as an absolute path; ExportError when it holds photos of the library."""
    dest = Path(os.path.abspath(dest))
    held = repo.list_photos(engine, under=str(dest), library_only=True)
    if held:  # scans skip export folders: one holding library photos would drop them from the library
        raise ExportError(f"{dest} holds {len(held)} photo{'' if len(held) == 1 else 's'} of the library; "
                          "copy the picks to a folder "
                          "outside the library or to a new one")
    return dest


def export_relative(path: str, under: str | None, roots: Sequence[str]) -> str:
    """Where a file goes below the export folder: its path below `under`; with no folder (all
    photos), its path below its library root, the root's own name first; else its bare name."""
    if under and is_under(path, under, or_same=False):
        return os.path.relpath(path, under)
    root = deepest_folder(path, roots)
    if root is not None:
        name = os.path.basename(root.rstrip(os.sep))
        return os.path.join(name, os.path.relpath(path, root)) if name else os.path.relpath(path, root)
    return os.path.basename(path)


def export_picks(engine: Engine, settings: Settings, dest: Path, under: str | None = None,
                 keepers: bool = False) -> ExportReport:
    """Copy the user's picks (with keepers, also each group's automatic keeper), with their RAW
    companions, into dest, keeping their folders below `under` (with no folder, below their library
    root, under the root's name); never overwrites (a different file of the same name gets a
    numbered name), skips what an earlier export already copied, and leaves the originals
    untouched. Scans skip dest from then on."""
    dest = check_export_dest(engine, dest)
    rows = export_list(engine, settings, under, keepers)
    dest.mkdir(parents=True, exist_ok=True)
    journal.record_export(engine, str(dest))
    roots = [r.path for r in repo.list_roots(engine)]
    report = ExportReport()
    for r in rows:
        for f in [r.path] + ([r.companion] if r.companion else []):
            wanted = dest / export_relative(f, under, roots)
            same = _same_file_among(wanted, f)
            if same is not None:
                report.already.append(same)
                continue
            wanted.parent.mkdir(parents=True, exist_ok=True)
            target = _free_name(wanted)
            shutil.copy2(f, target)
            report.copied.append(target)
    return report


def _numbered(path: Path):
    yield path
    n = 1
    while True:
        yield path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1


def _same_file_among(wanted: Path, source: str) -> Path | None:
    """A copy of `source` at `wanted` or one of its numbered names, left by an earlier export."""
    size = os.path.getsize(source)
    digest = None
    for candidate in _numbered(wanted):
        if not candidate.exists():
            return None
        if candidate.stat().st_size == size:
            digest = digest or removal.file_sha256(Path(source))
            if removal.file_sha256(candidate) == digest:
                return candidate


def _free_name(path: Path) -> Path:
    return next(c for c in _numbered(path) if not c.exists())
