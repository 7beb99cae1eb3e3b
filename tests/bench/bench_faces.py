"""Face checks benchmark: the time face analysis adds to a photo's analysis, against the analysis it joins,
measured in the same run on the same photos.

    python tests/bench/bench_faces.py [--repeat 3] [--encoder DIR] [--precision fp32 --runtime torch]

Per photo: decode at the pass's reduced size plus the technical measures and scene hash (what the decoder
threads do now), face analysis on that same decoded image, and with --encoder the encoder and head on the
photo (a folder from ../shared/tools/make_random_siglip.py: --tiny for mechanics, full size for the CPU's
real cost). With --whole-pass and --encoder, the whole analysis (library.analyse: decoder threads beside the
encoder, as the app runs it) of the same photos in a fresh library, face checks off and then on, wall time per
photo. Photos: the real photos of ../shared/photos (no faces) and frames of a generated group burst
(tests/faces_burst.py: three real faces pasted on a real photo). Goal: faces add at most 10% on the CPU.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median seconds of `repeat` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--encoder", help="a SigLIP folder: adds the encoder and head to the baseline")
    ap.add_argument("--head", default=str(SHARED / "models" / "aesthetic_predictor_v2_5.pth"))
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--runtime", default="torch")
    ap.add_argument("--model", default=str(SHARED / "models" / "face_landmarker.task"))
    ap.add_argument("--whole-pass", action="store_true", help="time library.analyse with face checks off and on")
    args = ap.parse_args()
    if args.whole_pass:
        return whole_pass(args)

    import tempfile

    from app.core import decode, faces, preprocess, quality
    from tests import faces_burst

    model = faces.resolve_faces_model(args.model)
    scorer = None
    if args.encoder:
        from app.core.scorer import Scorer, locate

        scorer = Scorer(locate(args.encoder, args.head), device="cpu", precision=args.precision, runtime=args.runtime)

    with tempfile.TemporaryDirectory() as tmp:
        photos = [(p.name, p, "real, no faces") for p in sorted((SHARED / "photos").glob("*.jpg"))]
        if faces_burst.available():
            for i, frame in enumerate(faces_burst.group_burst(people=3, frames=3)):
                path = Path(tmp) / f"group_{i}.jpg"
                frame.image.save(path, quality=92)
                photos.append((path.name, path, "group of 3"))
        faces.analyse_faces(decode.decode(photos[0][1]).image, model)  # loads mediapipe and the model
        if scorer is not None:
            scorer.score_batch(preprocess.pixel_values(decode.decode(photos[0][1]).image)[None])

        rows = []
        print(f"{'photo':24} {'kind':15} {'decode+quality':>15} {'encoder':>9} {'faces':>8} {'found':>5} "
              f"{'vs decode+q':>11} {'vs pass':>8}")
        for name, path, kind in photos:
            def analysis():
                d = decode.decode(path)
                quality.measure_quality(d.image, (d.width, d.height))
                quality.scene_hash(d.image)
                return d

            base, decoded = timed(analysis, args.repeat)
            face_time, report = timed(lambda: faces.analyse_faces(decoded.image, model), args.repeat)
            enc = 0.0
            if scorer is not None:
                enc, _ = timed(lambda: scorer.score_batch(preprocess.pixel_values(decoded.image)[None]), args.repeat)
            rows.append((kind, base, enc, face_time))
            print(f"{name[:24]:24} {kind:15} {base * 1000:13.0f}ms {enc * 1000:7.0f}ms {face_time * 1000:6.0f}ms "
                  f"{len(report.faces):5d} {face_time / base:10.0%} "
                  f"{(face_time / (base + enc)) if scorer else float('nan'):8.0%}")

    print()
    for kind in sorted({r[0] for r in rows}):
        sel = [r for r in rows if r[0] == kind]
        base = statistics.mean(r[1] for r in sel)
        enc = statistics.mean(r[2] for r in sel)
        face_time = statistics.mean(r[3] for r in sel)
        line = (f"{kind}: {len(sel)} photos, decode+quality {base * 1000:.0f} ms, faces {face_time * 1000:.0f} ms "
                f"(+{face_time / base:.0%} on decode+quality")
        if scorer is not None:
            line += f"; encoder {enc * 1000:.0f} ms, +{face_time / (base + enc):.0%} on the whole pass"
        print(line + ")")
    return 0


def whole_pass(args) -> int:
    """Wall time of the analysis pass per photo, face checks off and on, the model loaded beforehand."""
    import shutil
    import tempfile

    from app import library
    from app.config import settings as settings_mod
    from app.storage import db
    from tests import faces_burst

    if not args.encoder:
        print("--whole-pass needs --encoder")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for p in sorted((SHARED / "photos").glob("*.jpg")):
            shutil.copy(p, folder / p.name)
        if faces_burst.available():
            for i, frame in enumerate(faces_burst.group_burst(people=3, frames=3)):
                frame.image.save(folder / f"group_{i}.jpg", quality=92)
        count = len(list(folder.iterdir()))
        runs = {"off": [], "on": []}
        models = {"off": str(Path(tmp) / "no-face-model.task"), "on": args.model}
        for r in range(args.repeat):
            for label in ("off", "on"):  # interleaved, so a change in the machine's load falls on both
                engine = db.open_db(Path(tmp) / f"lib-{label}-{r}.sqlite3")
                settings = settings_mod.load(overrides={"encoder": args.encoder, "head": args.head, "device": "cpu",
                                                        "precision": args.precision, "runtime": args.runtime,
                                                        "faces_model": models[label]})
                library.scan_folders(engine, settings, [folder])
                holder = library.ModelHolder(settings, allow_download=False)
                holder.get()
                holder.faces()
                items = library.pending(engine, holder)
                start = time.perf_counter()
                summary = library.analyse(engine, holder, items)
                runs[label].append(time.perf_counter() - start)
                assert summary.scored == count, summary
                engine.dispose()
                print(f"pass {r + 1}, face checks {label}: {runs[label][-1] / count * 1000:.0f} ms per photo")
        results = {label: statistics.median(t) for label, t in runs.items()}
        for label in ("off", "on"):
            print(f"face checks {label}: {results[label] / count * 1000:.0f} ms per photo "
                  f"({count} photos, median of {args.repeat} passes)")
        print(f"face checks add {results['on'] / results['off'] - 1:+.1%} to the whole pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
