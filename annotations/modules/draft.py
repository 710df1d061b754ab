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
import ctypes
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from iram.data.openmpt import INSTRUMENT, NOTE, Module, ModuleError, lib

SR_DRAFT, BLOCK = 8000, 32
ROLE_WORDS = [  # first match wins; checked against the lower-cased name
    ("voice", r"vox|voc|voice|sing|choir|aah|ooh|speech|shout|yeah|say|talk|girl|man\b|laugh"),
    ("percussion", r"kick|bd|bass ?drum|bassd|snare|sn\b|sd\b|hat|hh|hihat|cymb|crash|ride|clap|tom|perc|drum|conga|bongo|rim|shaker|tamb|cowbell|909|808|cb\b|oh\b|ch\b|chh|ohh|hit\b|tick|click|snr|bassdr|kik|kck|break|loop"),
    ("fx", r"fx|sweep|noise|riser|scratch|zap|laser|explo|boom|wind|siren|whoosh|effect|sfx|impact|rev"),
    ("bass", r"bass|bas\b|sub|303|acid|tb"),
    ("chord", r"pad|string|chord|organ|stab|choir|strg|str\b|piano|rhodes|juno|brass|arp"),
    ("melody", r"lead|solo|flute|synth|guitar|gtr|bell|sax|trumpet|melody|whistle|pluck|sine|square|saw"),
]


def slug(package: str, path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{package}-{Path(path).stem}".lower())


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


def collect(package: str, path: str) -> dict:
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
                ev.append([cur[ch], note, k, None, r, o])
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
            "mod64": np.bincount([e[4] % 64 for e in es], minlength=64).tolist(),
            "orders": [min(e[5] for e in es), max(e[5] for e in es)],
            "n_orders": len({e[5] for e in es}),
        }
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


def draft_role(name: str, s: dict) -> tuple[str, str]:
    """A first guess from the name, then from the note statistics."""
    low = name.lower()
    for role, pat in ROLE_WORDS:
        if re.search(pat, low):
            return role, f"name '{name}'"
    if s["distinct"] <= 2 and s["len_median"] <= 4:
        return "percussion", "few pitches, short notes"
    if s["poly"] >= 3:
        return "chord", f"up to {s['poly']} channels at once"
    if s["median"] <= 45:
        return "bass", f"median note {s['median']:.0f}"
    return "melody", "pitched, single line"


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
    a = ap.parse_args()
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
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
                st = collect(package, path)
            except ModuleError as err:
                print(f"## {sl}  NOT A MODULE: {err}")
                continue
            f.write_text(json.dumps(st))
        if a.quiet:
            continue
        rpb, why = draft_grid(st)
        print(f"## {sl}  {st['format']} ch={st['channels']} {st['duration'] / 60:.1f} min  title='{st['title']}' artist='{st['artist']}'")
        print(f"   speed/tempo (speed,tempo,rows): {st['speed_tempo'][:6]}  start {st['speed0']}/{st['tempo0']}  "
              f"pattern rows {st['pattern_rows']}  IT highlight {st['it_highlight']}")
        print(f"   grid draft: {rpb} rows/beat ({why})")
        for n, s in st["instruments"].items():
            role, rwhy = draft_role(s["name"], s)
            print(f"   {n:>3} {s['name'][:24]:<24} n={s['notes']:<4} pitch {s['lo']}-{s['hi']} med {s['median']:.0f} "
                  f"d={s['distinct']:<2} poly={s['poly']} len={s['len_median']:.0f} ord={s['orders']} "
                  f"m16={''.join(str(min(9, v * 9 // max(1, max(s['mod16'])))) for v in s['mod16'])} -> {role} ({rwhy})")
        if st["unused"]:
            print(f"   unused: {st['unused']}")


if __name__ == "__main__":
    main()
