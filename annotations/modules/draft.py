"""Draft statistics for the tracker-module annotations (research code, not part of iram).

Usage (from the repository root):
    python annotations/modules/draft.py MODLIST [--cache DIR] [--only SUBSTR] [--quiet]

MODLIST has one "package path" per line. For each module it prints format, channels,
speed/tempo (initial and changes), pattern lengths, and per instrument/sample (n as in
roles.json): name, notes, pitch range/median, polyphony, typical note length in rows,
onsets by pattern row mod 16, and a drafted role; then a drafted grid. Stats are
cached as JSON per slug in --cache (default /tmp/iram-labels-cache) so a second pass is
instant. The played-row sequence comes from a fast low-rate render (8 kHz, 32-frame
reads): only which rows play and at what speed/tempo matter here, not their times.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from iram.data.modules import slug
from iram.data.openmpt import INSTRUMENT, NOTE, VOLUME, VOLUMEEFFECT, Module, ModuleError, lib

SR_DRAFT, BLOCK = 8000, 32
ROLE_WORDS = [  # first match wins; checked against the lower-cased name
    ("voice", r"vox|voc|voice|\bsing|choir|aah|ooh|speech|shout|yeah|talk|laugh|scream|hooo"),
    ("percussion", r"kick|\bbd|bass ?drum|bassd|base ?drum|snare|\bsn\b|\bsd\b|hat|\bhh|cymb|crash|ride\b|clap|\btom|perc|drum|conga|bongo|\brim|shaker|tamb|cowbell|909|808|\bchh|\bohh|click|snr|\bkik|\bkck|tabla|timpani|kettle"),
    ("fx", r"\bfx|sfx|sweep|noise|riser|scratch|\bzap|laser|explo|boom|wind|siren|whoosh|effect|impact"),
    ("bass", r"bass|\bbas\b|303|acid"),
    ("chord", r"pad|string|chord|organ|stab|\bstr\b|strg|piano|rhodes|brass|arp\b|orch"),
    ("melody", r"lead|solo|flute|guitar|gtr|bell|sax|trumpet|melody|whistle|pluck|vibe|xylo|xilo|oboe|bassoon|horn"),
]


def played_rows(m: Module) -> list[tuple[int, int, int, int, int]]:
    """(order, pattern, row, speed, tempo) per played row, from a fast low-rate render."""
    so = lib()
    h = m._mod
    buf = np.zeros((2, BLOCK), np.float32)
    out, last = [], None
    while True:
        n = so.openmpt_module_read_float_stereo(h, SR_DRAFT, BLOCK, buf[0].ctypes.data, buf[1].ctypes.data)
        if n == 0:
            break
        now = (so.openmpt_module_get_current_order(h), so.openmpt_module_get_current_row(h))
        if now != last:
            out.append((now[0], so.openmpt_module_get_current_pattern(h), now[1],
                        so.openmpt_module_get_current_speed(h), so.openmpt_module_get_current_tempo(h)))
            last = now
    return out


def render_low(data: bytes, name: str, sr: int = 11025) -> np.ndarray:
    """Mono float32 render of module bytes at ``sr`` (fast; for sound statistics only)."""
    m = Module(data, name)
    so, out = lib(), []
    buf = np.zeros((2, 1 << 15), np.float32)
    while True:
        n = so.openmpt_module_read_float_stereo(m._mod, sr, buf.shape[1], buf[0].ctypes.data, buf[1].ctypes.data)
        if n == 0:
            break
        out.append(buf[:, :n].mean(0).copy())
    m.close()
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def sound(data: bytes, fmt: str, name: str, wanted: list[int]) -> dict:
    """Per stem n: rough sound statistics of a solo render (other samples' data silenced).

    cent: spectral centroid in Hz (frames above -40 dB of the stem's peak, mean); low: share of
    energy below 150 Hz; perc: share of the percussive part in an HPSS split; flat: spectral
    flatness (noisy ~ 0.3+, tonal ~ 0.01); active: share of frames above -40 dB.
    Needs ``iram.data.samples`` (the modules stage); returns {} without it.
    """
    try:
        from iram.data.samples import keep_only, layout
        import librosa
    except ImportError:
        return {}
    samples, stems = layout(data, fmt)
    out = {}
    for st in stems:
        if st.n not in wanted:
            continue
        y = render_low(keep_only(data, samples, set(st.samples)), name)
        if not len(y) or not np.any(y):
            continue
        S = np.abs(librosa.stft(y, n_fft=1024, hop_length=512)) ** 2
        e = S.sum(0)
        on = e > e.max() * 1e-4
        f = librosa.fft_frequencies(sr=11025, n_fft=1024)
        cent = float(((f[:, None] * S).sum(0) / np.maximum(e, 1e-12))[on].mean())
        H, P = librosa.decompose.hpss(S[:, on], kernel_size=9)
        out[st.n] = {"cent": round(cent), "low": round(float(S[f < 150][:, on].sum() / S[:, on].sum()), 2),
                     "perc": round(float(P.sum() / (H.sum() + P.sum())), 2),
                     "flat": round(float(librosa.feature.spectral_flatness(S=S[:, on], power=1.0).mean()), 3),
                     "active": round(float(on.mean()), 2)}
    return out


def collect(package: str, path: str, *, with_sound: bool = False) -> dict:
    """Everything the drafts need, as plain JSON-able values."""
    data = Path(path).read_bytes()
    m = Module(data, path)
    rows = played_rows(m)
    pats = sorted({p for _, p, _, _, _ in rows})
    cells = {p: m.cells(p) for p in pats}
    nch = m.n_channels
    inst = m.instrument_names()
    names = inst if inst and len(inst) > 0 else m.sample_names()
    # walk the played rows: per channel current instrument and note since onset
    cur = [0] * nch
    playing = [None] * nch  # (n, note, start_index)
    ev = []  # (n, note, start index, length rows, pattern row, order)
    poly = Counter()
    active_by_row = []
    for k, (o, p, r, _, _) in enumerate(rows):
        c = cells[p][r]
        for ch in range(nch):
            note, ins = int(c[ch, NOTE]), int(c[ch, INSTRUMENT])
            if ins:
                cur[ch] = ins
            if 1 <= note <= 120 and cur[ch]:
                if playing[ch]:
                    ev[playing[ch][3]][3] = k - playing[ch][2]
                vol = int(c[ch, VOLUME]) if c[ch, VOLUMEEFFECT] == 1 else 64  # volume column, else full
                ev.append([cur[ch], note, k, None, r, o, vol])
                playing[ch] = (cur[ch], note, k, len(ev) - 1)
            elif note > 120 and playing[ch]:
                ev[playing[ch][3]][3] = k - playing[ch][2]
                playing[ch] = None
        act = Counter(pl[0] for pl in playing if pl)
        active_by_row.append(dict(act))
        for n, cnt in act.items():
            poly[(n, cnt)] += 1
    for pl in playing:
        if pl:
            ev[pl[3]][3] = len(rows) - pl[2]
    per = {}
    for n in sorted({e[0] for e in ev}):
        es = [e for e in ev if e[0] == n]
        notes = [e[1] for e in es]
        lens = [e[3] for e in es]
        per[n] = {
            "name": names[n - 1] if 0 < n <= len(names) else "",
            "notes": len(es), "lo": min(notes), "hi": max(notes), "median": float(np.median(notes)),
            "distinct": len(set(notes)),
            "poly": max(c for (nn, c) in poly if nn == n) if any(nn == n for nn, _ in poly) else 0,
            "poly2_rows": sum(v for (nn, c), v in poly.items() if nn == n and c >= 2),
            "len_median": float(np.median(lens)),
            "mod16": np.bincount([e[4] % 16 for e in es], minlength=16).tolist(),
            "mod64": np.round(np.bincount([e[4] % 64 for e in es], [e[6] / 64 for e in es], minlength=64), 1).tolist(),
            "orders": [min(e[5] for e in es), max(e[5] for e in es)],
            "n_orders": len({e[5] for e in es}),
        }
    snd = sound(data, m.metadata("type"), path, list(per)) if with_sound else {}
    for n, v in snd.items():
        per[n]["sound"] = v
    head = data[:0x20]
    hint = [head[0x1E], head[0x1F]] if data[:4] == b"IMPM" else None
    sp = Counter((s, t) for *_, s, t in rows)
    return {
        "slug": slug(package, path), "package": package, "path": path,
        "format": m.metadata("type"), "title": m.metadata("title"), "artist": m.metadata("artist"),
        "message": m.metadata("message"), "tracker": m.metadata("tracker"),
        "channels": nch, "n_orders": m.n_orders, "rows_played": len(rows),
        "duration": m.duration, "speed0": rows[0][3], "tempo0": rows[0][4],
        "speed_tempo": [[s, t, c] for (s, t), c in sp.most_common()],
        "pattern_rows": Counter(m.pattern_rows(p) for p in pats).most_common(),
        "it_highlight": hint, "names": names, "sample_names": m.sample_names(),
        "instruments": per,
        "unused": [i + 1 for i in range(len(names)) if (i + 1) not in per],
    }


def draft_roles(st: dict) -> dict:
    """{n: (role, alt_roles, why)} for every played instrument: name words first, then sound
    (when solo-render statistics exist), then note statistics relative to the module."""
    ins = st["instruments"]
    out, pitched = {}, []
    for n, s in ins.items():
        low, snd = s["name"].lower(), s.get("sound")
        if snd is not None and snd["active"] == 0:
            out[n] = ("none", [], "silent in a solo render")
            continue
        for role, pat in ROLE_WORDS:
            if re.search(pat, low):
                out[n] = (role, [], f"name '{s['name'].strip()}'")
                break
        else:
            if snd and (snd["flat"] >= 0.15 or (snd["perc"] >= 0.75 and s["distinct"] <= 2)):
                out[n] = ("percussion", [], f"noisy/percussive solo render (flatness {snd['flat']}, percussive {snd['perc']}), {s['distinct']} pitch(es)")
            elif s["distinct"] <= 2 and s["len_median"] <= 4 and s["notes"] >= 16:
                out[n] = ("percussion", ["fx"], f"{s['distinct']} pitch(es), notes {s['len_median']:.0f} rows long")
            elif s["notes"] < 8 and s["len_median"] >= 32:
                out[n] = ("fx", ["chord"], f"{s['notes']} long notes")
            else:
                pitched.append(n)
    if pitched:
        weight = {n: ins[n]["notes"] for n in pitched}
        med = {n: ins[n]["median"] - (12 * ins[n]["sound"]["low"] if ins[n].get("sound") else 0) for n in pitched}
        big = [n for n in pitched if weight[n] >= 0.05 * sum(weight.values())] or pitched
        bass = min(big, key=lambda n: med[n])
        for n in pitched:
            s = ins[n]
            if n == bass:
                out[n] = ("bass", ["chord"] if s["poly"] >= 3 else [], f"lowest pitched line (median note {s['median']:.0f})")
            elif s["poly"] >= 3:
                out[n] = ("chord", [], f"up to {s['poly']} channels at once")
            else:
                out[n] = ("melody", ["chord"], f"pitched, {s['distinct']} pitches, notes {s['len_median']:.0f} rows")
    return out


def read_review(path: Path) -> dict:
    """The hand review: lines ``slug n role [alt,alt] why...``; ``slug n role - why`` for no alts;
    ``slug n changes first-last:role[/alt] ...`` adds order-range overrides; ``slug * checked``
    marks the module's remaining drafts as read and accepted. # starts a comment."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip() if not line.startswith("#") else ""
        if not line:
            continue
        if line.split()[1:] == ["*", "checked"]:
            out.setdefault(line.split()[0], {})["*"] = {}
            continue
        sl, n, role, alt, *why = line.split()
        e = out.setdefault(sl, {}).setdefault(n, {})
        if role == "changes":
            e["changes"] = []
            for part in [alt] + why:
                rng, _, ra = part.partition(":")
                r, _, a = ra.partition("/")
                a_, b_ = rng.split("-")
                e["changes"].append({"orders": [int(a_), int(b_)], "role": r, "alt_roles": [x for x in a.split(",") if x]})
        else:
            e.update(role=role, alt_roles=[] if alt == "-" else alt.split(","), why=" ".join(why))
    return out


def roles_json(stats: list[dict], review: dict) -> dict:
    """roles.json: the hand review where given, else the draft (its why starts 'draft:')."""
    out = {}
    for st in stats:
        d = draft_roles(st)
        rv = review.get(st["slug"], {})
        m = {}
        for n, s in st["instruments"].items():
            role, alt, why = d[n]
            e = {"name": s["name"].strip(), "role": role, "alt_roles": alt, "why": f"draft: {why}"}
            r = rv.get(str(n), {})
            if "*" in rv:
                e["why"] = f"draft, checked: {why}"
            if "role" in r:
                e.update(role=r["role"], alt_roles=r["alt_roles"], why=r["why"])
            if r.get("changes"):
                e["changes"] = r["changes"]
            m[str(n)] = e
        out[st["slug"]] = m
    return out


def draft_grid(st: dict) -> tuple[int, str]:
    """Rows per beat: a beat near 90-180 BPM, checked against the hint and 24/speed."""
    s, t, _ = st["speed_tempo"][0]
    rpm = 24 * t / s
    cands = [r for r in (2, 3, 4, 6, 8, 12, 16) if 80 <= rpm / r <= 180]
    rpb = min(cands or [4], key=lambda r: abs(rpm / r - 130))
    return rpb, f"speed {s} tempo {t}: {rpm:.0f} rows/min -> {rpm / rpb:.1f} BPM at {rpb} rows/beat"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modlist")
    ap.add_argument("--cache", default="/tmp/iram-labels-cache")
    ap.add_argument("--only", default="")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--roles", default="", help="write roles.json here (draft merged with --review)")
    ap.add_argument("--review", default=str(Path(__file__).with_name("review.txt")))
    ap.add_argument("--sound", default="", help="comma-separated slug substrings to add solo-render sound statistics for")
    a = ap.parse_args()
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    stats = []
    for line in Path(a.modlist).read_text().splitlines():
        if not line.strip() or " lmms" in f" {line}":
            continue
        package, path = line.split(maxsplit=1)
        sl = slug(package, path)
        if a.only and a.only not in sl:
            continue
        f = cache / f"{sl}.json"
        if f.exists():
            st = json.loads(f.read_text())
        else:
            try:
                st = collect(package, path, with_sound=any(w and w in sl for w in a.sound.split(",")))
            except ModuleError as err:
                print(f"## {sl}  NOT A MODULE: {err}")
                continue
            f.write_text(json.dumps(st))
            st = json.loads(f.read_text())  # instrument numbers as strings, as in roles.json
        stats.append(st)
        if a.quiet:
            continue
        rpb, why = draft_grid(st)
        roles = draft_roles(st)
        print(f"## {sl}  {st['format']} ch={st['channels']} {st['duration'] / 60:.1f} min  title='{st['title']}' artist='{st['artist']}'")
        print(f"   speed/tempo (speed,tempo,rows): {st['speed_tempo'][:6]}  start {st['speed0']}/{st['tempo0']}  "
              f"pattern rows {st['pattern_rows']}  IT highlight {st['it_highlight']}")
        print(f"   grid draft: {rpb} rows/beat ({why})")
        for n, s in st["instruments"].items():
            role, alt, rwhy = roles[n]
            print(f"   {n:>3} {s['name'][:24]:<24} n={s['notes']:<4} pitch {s['lo']}-{s['hi']} med {s['median']:.0f} "
                  f"d={s['distinct']:<2} poly={s['poly']} len={s['len_median']:.0f} ord={s['orders']} "
                  f"m16={''.join(str(min(9, v * 9 // max(1, max(s['mod16'])))) for v in s['mod16'])} {s.get('sound', '')} -> {role} {alt} ({rwhy})")
        if st["unused"]:
            print(f"   unused: {st['unused']}")
    if a.roles:
        review = read_review(Path(a.review)) if Path(a.review).exists() else {}
        Path(a.roles).write_text(json.dumps(roles_json(stats, review), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
