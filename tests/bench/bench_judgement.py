"""Judgement benchmark on labelled photos: does Aesthete pick the sound frame of each scene, find the
blurred and badly exposed ones, never call a frame softer for its exposure, and never cull a whole scene?

    python tests/bench/bench_judgement.py FOLDER [FOLDER ...] [--below X --encoder DIR --head FILE]

Each FOLDER holds photos and a labels.csv: `filename,label[,scene]` (a header row; the third column is
the scene when the header names it `scene` or `scene_id`; further columns are ignored). Labels read as: `sharp`, `good`, `standard_photo...` (sound); `blurred`, `defocus_blur`,
`motion_blur...` (blurred); `underexposed`, `overexposed`, `badly_exposed...` (badly exposed);
anything else (`ev+1.18`, `texture_photo`) is no claim either way. Photos sharing a scene are expected
to be grouped together, and the pick of a scene with a sound frame should be a sound frame.

The photos are judged the way the app judges them (decoding, measurements, grouping without the
embedding, best pick, cull rules); without --encoder and --head nothing is scored, so the pick falls
to quality and the score rule is off. Prints a line per photo, then per scene, then the totals.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core import bestpick, cullrules, grouping  # noqa: E402
from app.core.decode import decode  # noqa: E402
from app.errors import PhotoError  # noqa: E402
from app.core.quality import QualityThresholds, exposure_faults, faults, measure_quality, scene_hash  # noqa: E402
from app.curation import _exposure_differs, file_sequences  # noqa: E402

SOUND, BLURRED, EXPOSURE = "sound", "blurred", "exposure"


def kind_of(label: str) -> str | None:
    label = label.strip().lower()
    if label in ("sharp", "good") or label.startswith("standard_photo"):
        return SOUND
    if "blur" in label:
        return BLURRED
    if label in ("underexposed", "overexposed") or label.startswith("badly_exposed"):
        return EXPOSURE
    return None


@dataclass
class Photo:
    id: int
    path: Path
    label: str
    scene: str | None
    quality: object = None
    hash: int | None = None
    captured_at: float | None = None
    score: float | None = None


def read_labels(folder: Path, first_id: int) -> list[Photo]:
    with open(folder / "labels.csv", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    out = []
    has_scene = len(rows[0]) > 2 and rows[0][2].strip().lower() in ("scene", "scene_id")
    for i, row in enumerate(rows[1:]):  # the header
        scene = row[2].strip() if has_scene and len(row) > 2 and row[2].strip() else None
        out.append(Photo(first_id + i, folder / row[0], row[1], f"{folder.name}/{scene}" if scene else None))
    return out


def measure(photos: list[Photo]) -> list[Photo]:
    ok = []
    for p in photos:
        try:
            d = decode(p.path)
        except PhotoError as exc:
            print(f"  cannot read {p.path.name}: {exc}")
            continue
        p.quality = measure_quality(d.image, (d.width, d.height))
        p.hash = scene_hash(d.image)
        p.captured_at = d.captured_at
        ok.append(p)
    return ok


def score(photos: list[Photo], encoder: str, head: str) -> None:
    from app.config import settings as settings_mod
    from app.core.scorer import ModelFiles, Scorer

    settings = settings_mod.load(overrides={"encoder": encoder, "head": head})
    scorer = Scorer(ModelFiles.resolve(settings), settings)
    for p, s in zip(photos, scorer.score_paths([p.path for p in photos])):
        p.score = s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--below", type=float, default=0.0, help="score rule threshold (needs --encoder/--head)")
    ap.add_argument("--encoder")
    ap.add_argument("--head")
    args = ap.parse_args()

    photos: list[Photo] = []
    for folder in args.folders:
        photos += read_labels(folder, len(photos) + 1)
    photos = measure(photos)
    if args.encoder and args.head:
        score(photos, args.encoder, args.head)
    by_id = {p.id: p for p in photos}
    thresholds = QualityThresholds()

    sequences = file_sequences({p.id: str(p.path) for p in photos})
    facts = [grouping.PhotoFacts(p.id, None, p.captured_at, p.hash, None, exposure_fault=_exposure_differs(p.quality),
                                 spoiled=bool(faults(p.quality, thresholds)), sequence=sequences[p.id],
                                 badly_exposed=bool(exposure_faults(p.quality, thresholds)))
             for p in photos]
    groups = grouping.group_photos(facts)
    group_of: dict[int, grouping.Group] = {i: g for g in groups for i in g.members}
    picks: dict[int, bestpick.Pick] = {}
    for g in groups:
        picks[g.members[0]] = bestpick.best_pick(
            [bestpick.Candidate(i, by_id[i].score, by_id[i].quality) for i in g.members], thresholds)

    cull_facts = []
    for p in photos:
        g = group_of.get(p.id)
        pick = picks[g.members[0]] if g else None
        cull_facts.append(cullrules.CullFacts(
            p.id, p.score, p.quality, group_pick_id=pick.photo_id if pick else None, group_kind=g.kind if g else None,
            group_pick_name=by_id[pick.photo_id].path.name if pick else None,
            group_faults=pick.faults.get(p.id, ()) if pick else None))
    rules = frozenset(cullrules.RULES) if args.encoder else frozenset(cullrules.RULES) - {"score"}
    candidates = {c.photo_id: c for c in
                  cullrules.cull_candidates(cull_facts, cullrules.CullSettings(args.below, rules), thresholds)}

    def found(p: Photo, rule: str) -> list[str]:
        g = group_of.get(p.id)
        fs = picks[g.members[0]].faults.get(p.id, ()) if g else faults(p.quality, thresholds)
        return [f.text for f in fs if f.rule == rule]

    print(f"{'photo':44} {'label':24} {'focus':>7} {'blur':>5} {'smear':>5} {'lost':>5}  group  judged")
    for p in photos:
        q = p.quality
        g = group_of.get(p.id)
        where = "-" if g is None else f"{g.kind[:5]}{g.members[0]}" + ("*" if picks[g.members[0]].photo_id == p.id else "")
        said = found(p, "blur") + found(p, "exposure")
        cull = candidates.get(p.id)
        print(f"{p.path.parent.name[:14] + '/' + p.path.name[:29]:44} {p.label[:24]:24} {q.focus:7.2f} "
              f"{q.blur_px if q.blur_px is not None else float('nan'):5.2f} {q.motion_px:5.2f} "
              f"{q.clipped_highlights + q.crushed_shadows:5.2f}  {where:6} {'; '.join(said) or 'fine'}"
              + (f"  [cull: {', '.join(cull.rules)}]" if cull else ""))

    # Scenes: grouped together, the pick sound, nothing called softer that is not blurred, not all culled.
    scenes: dict[str, list[Photo]] = defaultdict(list)
    for p in photos:
        if p.scene:
            scenes[p.scene].append(p)
    picked_right = picked_total = false_softer = lost_scenes = split = 0
    print("\nscene                               frames grouped  pick                         sound?  softer-calls  all culled")
    for name, members in scenes.items():
        gs = {group_of[p.id].members[0] if p.id in group_of else -p.id for p in members}
        together = len(gs) == 1 and members[0].id in group_of
        split += not together
        pick_ids = {picks[g].photo_id for g in gs if g > 0}
        pick_names = ", ".join(by_id[i].path.name for i in pick_ids) or "-"
        has_sound = any(kind_of(p.label) == SOUND for p in members)
        sound = all(kind_of(by_id[i].label) == SOUND for i in pick_ids) if pick_ids else False
        if has_sound:
            picked_total += 1
            picked_right += sound
        softer = [p for p in members if kind_of(p.label) != BLURRED and any("softer" in t for t in found(p, "blur"))]
        false_softer += len(softer)
        gone = all(p.id in candidates for p in members)
        lost_scenes += gone
        print(f"{name[:35]:35} {len(members):6} {'yes' if together else 'NO':7}  {pick_names[:28]:28} "
              f"{('yes' if sound else 'NO') if has_sound else 'n/a':6}  {len(softer):12}  {'YES' if gone else 'no'}")

    def rates(kind: str, rule: str) -> str:
        truth = [p for p in photos if kind_of(p.label) is not None]
        hit = [p for p in truth if found(p, rule)]
        tp = sum(kind_of(p.label) == kind for p in hit)
        actual = sum(kind_of(p.label) == kind for p in truth)
        precision = f"{tp / len(hit):.2f}" if hit else "n/a"
        recall = f"{tp / actual:.2f}" if actual else "n/a"
        return f"{rule}: precision {precision} ({tp}/{len(hit)}), recall {recall} ({tp}/{actual})"

    print(f"\nphotos {len(photos)}, groups {len(groups)}")
    print(f"pick accuracy: {picked_right}/{picked_total} scenes with a sound frame picked it")
    print(rates(BLURRED, "blur"))
    print(rates(EXPOSURE, "exposure"))
    print(f"false 'softer' calls (frames not labelled blurred): {false_softer}")
    print(f"scenes split over groups: {split}; scenes that would lose every frame: {lost_scenes}")
    by_rule = cullrules.count_by_rule(candidates.values())
    print("cull candidates by rule (score rule " + ("at %g" % args.below if args.encoder else "off: no scores")
          + "): " + (", ".join(f"{r} {n}" for r, n in by_rule.items()) or "none") + f"; {len(candidates)} photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
