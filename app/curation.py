"""Best shots and culling over the library (no Qt): groups with explained picks, cull candidates,
safe removal through the journal, undo, marks with XMP sidecars, and export of the picks.

The CLI and the GUI both call these; nothing here deletes a file: removal moves to the system
trash or the rejects folder, and undo puts files back byte for byte.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from sqlalchemy import Engine

from app.config.settings import Settings
from app.core import bestpick, cullrules, grouping, removal, xmp
from app.core.cullrules import RuleError  # noqa: F401 (what cull_rules raises, for the callers)
from app.core.errors import AestheteError
from app.core.quality import QualityThresholds, TechnicalQuality, exposure_faults, faults
from app.storage import journal, marks, repo

log = logging.getLogger(__name__)


@dataclass
class Member:
    row: repo.CurationRow
    quality: TechnicalQuality | None
    faults: list[str]  # in words: alone, or next to the other frames of its group once grouped


@dataclass
class GroupView:
    id: int  # the smallest member id: stable while the group's members stay
    kind: str
    members: list[Member]
    pick_id: int
    reason: str
    member_faults: dict[int, tuple] = field(default_factory=dict)  # photo id -> its Faults next to the others
    thresholds: QualityThresholds = QualityThresholds()  # what it was judged with, for choosing again

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


def _member(row: repo.CurationRow, thresholds: QualityThresholds) -> Member:
    q = _quality(row)
    return Member(row, q, [f.text for f in faults(q, thresholds)] if q else [])


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


def pick_group(members: Sequence[Member], thresholds: QualityThresholds = QualityThresholds()) -> bestpick.Pick:
    """The keeper of a group (the user's marks first), with each member's faults next to the others
    (set on the members in words)."""
    pick = bestpick.best_pick([
        bestpick.Candidate(m.row.id, m.row.score, m.quality, user_pick=m.row.flag == "pick",
                           user_reject=m.row.flag == "reject", rating=m.row.rating) for m in members], thresholds)
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
    for g in grouping.group_photos(facts, grouping_settings(settings)):
        members = [by_id[i] for i in g.members]
        pick = pick_group(members, thresholds)
        reason = pick.reason
        if g.kind == "exact" and pick.photo_id == min(g.members) and not any(m.row.flag or m.row.rating
                                                                               for m in members):
            # Byte-identical files score and measure alike: focus or score cannot tell them apart.
            reason = "identical files: the one first seen in the library is kept"
        out.append(GroupView(min(g.members), g.kind, members, pick.photo_id, reason, dict(pick.faults), thresholds))
    out.sort(key=lambda g: (min((m.row.captured_at or 0) for m in g.members), g.id))
    return out


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

    The journal is written before anything moves; a file that cannot be moved stays where it is."""
    folder = None if trash else (rejects_folder or settings.rejects_folder or None)
    report = RemovalReport()
    wanted = set(photo_ids)
    rows = {p.id: p for p in repo.list_photos(engine, include_missing=True) if p.id in wanted}
    planned: list[tuple[int | None, str, str]] = []
    for pid in photo_ids:
        p = rows.get(pid)
        if p is None or p.state != "present":
            continue
        for i, f in enumerate(_files_of(p.path, p.companion)):
            try:
                planned.append((pid if i == 0 else None, f, removal.file_sha256(Path(f))))
            except OSError as exc:
                report.failed.append(f"{f}: {exc.strerror or exc}")
    if not planned:
        return report
    rid = journal.plan(engine, folder, planned)
    report.removal_id = rid
    roots = repo.list_roots(engine)
    for jf in journal.get(engine, rid).files:
        try:
            if folder is None:
                moved = removal.move_to_trash(Path(jf.source), jf.sha256)
            else:
                root = next((Path(r.path) for r in roots if jf.source.startswith(r.path.rstrip(os.sep) + os.sep)), None)
                moved = removal.move_to_folder(Path(jf.source), Path(folder), root, jf.sha256)
            journal.mark_file(engine, jf.id, "moved", str(moved.destination),
                              photo_state="removed" if jf.photo_id else None)
            report.moved.append(jf.source)
        except (removal.RemovalError, OSError) as exc:
            journal.mark_file(engine, jf.id, "failed", error=str(exc))
            report.failed.append(f"{jf.source}: {exc}")
    journal.set_state(engine, rid, "partial" if report.failed else "done")
    return report


@dataclass
class UndoReport:
    removal_id: int | None = None
    restored: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def undo_last(engine: Engine) -> UndoReport:
    """Put back the files of the last removal; a file whose place is taken is reported, not forced."""
    op = journal.last_undoable(engine)
    report = UndoReport(op.id if op else None)
    if op is None:
        return report
    for jf in op.files:
        if jf.state != "moved" or not jf.destination:
            continue
        try:
            removal.restore(removal.Moved(Path(jf.source), Path(jf.destination), jf.sha256))
            journal.mark_file(engine, jf.id, "restored", photo_state="present" if jf.photo_id else None)
            report.restored.append(jf.source)
        except (removal.RemovalError, OSError) as exc:
            report.failed.append(f"{jf.source}: {exc}")
    journal.set_state(engine, op.id, "partial" if report.failed else "undone")
    return report


def repair(engine: Engine) -> int:
    """Finish the journal of removals a crash interrupted: each file is either still in place
    (skipped) or found in the trash or rejects folder by its hash (moved). Returns files fixed."""
    fixed = 0
    for op in journal.unfinished(engine):
        moved = False
        for jf in op.files:
            if jf.state != "planned":
                continue
            src = Path(jf.source)
            if src.is_file() and removal.file_sha256(src) == jf.sha256:
                journal.mark_file(engine, jf.id, "skipped")
            else:
                dest = (removal.find_in_trash(src, jf.sha256) if op.target is None
                        else _find_in_folder(Path(op.target), src.name, jf.sha256))
                if dest is not None:
                    journal.mark_file(engine, jf.id, "moved", str(dest),
                                      photo_state="removed" if jf.photo_id else None)
                    moved = True
                else:
                    journal.mark_file(engine, jf.id, "failed", error="not found after an interrupted move")
            fixed += 1
        moved = moved or any(jf.state == "moved" for jf in op.files)
        # Nothing moved: there is nothing to undo either.
        journal.set_state(engine, op.id, "done" if moved else "undone")
    return fixed


def _find_in_folder(folder: Path, name: str, sha: str) -> Path | None:
    stem, ext = os.path.splitext(name)
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            if f.startswith(stem) and f.endswith(ext):
                p = Path(dirpath) / f
                if removal.file_sha256(p) == sha:
                    return p
    return None


# --- export ------------------------------------------------------------------------------------

def picks(engine: Engine, settings: Settings, under: str | None = None) -> list[repo.CurationRow]:
    """The keepers: the pick of every group plus every photo the user marked as a pick."""
    rows = repo.curation_rows(engine, under, with_embeddings=True)
    chosen = {g.pick_id for g in load_groups(engine, settings, rows=rows)}
    chosen |= {r.id for r in rows if r.flag == "pick"}
    return [r for r in rows if r.id in chosen]


class ExportError(AestheteError):
    """The picks cannot go there (a folder of the library itself)."""


@dataclass
class ExportReport:
    copied: list[Path] = field(default_factory=list)
    already: list[Path] = field(default_factory=list)  # an identical copy was there from an earlier export


def export_picks(engine: Engine, settings: Settings, dest: Path, under: str | None = None) -> ExportReport:
    """Copy the picks (with RAW companions) into dest, keeping their folders below `under`; never
    overwrites (a different file of the same name gets a numbered name), skips what an earlier
    export already copied, and leaves the originals untouched. Scans skip dest from then on."""
    dest = Path(os.path.abspath(dest))
    held = repo.list_photos(engine, under=str(dest), library_only=True)
    if held:  # scans skip export folders: one holding library photos would drop them from the library
        raise ExportError(f"{dest} holds {len(held)} photo{'' if len(held) == 1 else 's'} of the library; "
                          "copy the picks to a folder "
                          "outside the library or to a new one")
    dest.mkdir(parents=True, exist_ok=True)
    journal.record_export(engine, str(dest))
    report = ExportReport()
    for r in picks(engine, settings, under):
        for f in [r.path] + ([r.companion] if r.companion else []):
            relative = os.path.relpath(f, under) if under and f.startswith(under.rstrip(os.sep) + os.sep) \
                else os.path.basename(f)
            wanted = dest / relative
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
