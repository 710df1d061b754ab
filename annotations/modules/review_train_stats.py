"""Figures behind review-train.txt (second annotator, train split; research code, not part of iram).

Usage (from the repository root):
    python annotations/modules/review_train_stats.py stats OUT_DIR [SLUG_SUBSTR]
    python annotations/modules/review_train_stats.py probe SLUG N [N ...]
    python annotations/modules/review_train_stats.py peak SLUG:N [SLUG:N ...]

``stats`` writes OUT_DIR/<slug>.json for the train modules of modules.csv (reverse package order):
draft.py's ``collect`` with solo-render sound figures, plus per instrument ``extra``: lowshare (share of
the rows it sounds where it holds the lowest note; note numbers, so only a hint across samples),
rows_on and the channels it uses. ``probe`` solo-renders instruments (other samples' data silenced) and
prints librosa.pyin's median f0 and 10-90 % range over up to 15 s of the stem's active audio, the
voiced share, onsets per active second and a chroma count of simultaneous notes. ``peak SLUG:N ...``
prints a solo render's peak against the mix's (is it silent?). stats/probe renders are mono
(L+R)/2: a module whose channels are IT surround cancels there (pingus rough-journey).
"""
from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("draft", HERE / "draft.py")
draft = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(draft)
ROWS = {r["slug"]: r for r in csv.DictReader(open(HERE / "modules.csv"))}


def extra(path: str) -> dict:
    """{n: {lowshare, rows_on, chans}} from the played rows (see module docstring)."""
    from iram.data.openmpt import INSTRUMENT, NOTE, Module
    m = Module(Path(path).read_bytes(), path)
    rows = draft.played_rows(m)
    cells = {p: m.cells(p) for p in {p for _, p, _, _, _ in rows}}
    cur, playing = [0] * m.n_channels, [None] * m.n_channels
    low, tot, chans = Counter(), Counter(), {}
    for _, p, r, _, _ in rows:
        c = cells[p][r]
        for ch in range(m.n_channels):
            note, ins = int(c[ch, NOTE]), int(c[ch, INSTRUMENT])
            cur[ch] = ins or cur[ch]
            if 1 <= note <= 120 and cur[ch]:
                playing[ch] = (cur[ch], note)
                chans.setdefault(cur[ch], set()).add(ch)
            elif note > 120:
                playing[ch] = None
        act = [pl for pl in playing if pl]
        if act:
            lo = min(n for _, n in act)
            for i in {i for i, _ in act}:
                tot[i] += 1
                low[i] += any(n == lo for j, n in act if j == i)
    m.close()
    return {str(i): {"lowshare": round(low[i] / tot[i], 2), "rows_on": tot[i], "chans": sorted(chans.get(i, []))} for i in tot}


def stats(out: Path, only: str = "") -> None:
    out.mkdir(parents=True, exist_ok=True)
    train = sorted((r for r in ROWS.values() if r["split"] == "train"), key=lambda r: (r["package"], r["slug"]), reverse=True)
    for r in train:
        f = out / f"{r['slug']}.json"
        if only not in r["slug"] or f.exists():
            continue
        st = json.loads(json.dumps(draft.collect(r["package"], r["path"], with_sound=True)))
        st["extra"] = extra(r["path"])
        f.write_text(json.dumps(st))
        print("done", r["slug"], flush=True)


def probe(slug: str, ns: list[int], sr: int = 11025) -> None:
    import librosa
    from iram.data.samples import keep_only, layout
    r = ROWS[slug]
    data = Path(r["path"]).read_bytes()
    samples, stems = layout(data, r["format"])
    for n in ns:
        st = [s for s in stems if s.n == n][0]
        y = draft.render_low(keep_only(data, samples, set(st.samples)), r["path"], sr=sr)
        rms = librosa.feature.rms(y=y)[0]
        on = rms > rms.max() * 0.03
        act = np.repeat(on, 512)[: len(y)].astype(bool)
        yy = y[: len(act)][act][: sr * 15]
        f0, vf, _ = librosa.pyin(yy, fmin=40, fmax=1600, sr=sr, frame_length=2048, hop_length=512)
        f = f0[vf & ~np.isnan(f0)]
        ons = librosa.onset.onset_detect(y=y, sr=sr, units="time")
        C = librosa.feature.chroma_stft(y=yy, sr=sr)
        loud = librosa.feature.rms(y=yy)[0][: C.shape[1]] > rms.max() * 0.05
        poly = float(np.median((C / np.maximum(C.max(0), 1e-9) > 0.5).sum(0)[loud])) if loud.any() else 0.0
        fmed = f"{np.median(f):.0f} Hz ({librosa.hz_to_note(np.median(f))}), p10-p90 {np.percentile(f, 10):.0f}-{np.percentile(f, 90):.0f} Hz" if len(f) else "-"
        print(f"n={n} active {on.mean() * len(y) / sr:.0f} s, voiced {vf.mean():.2f}, f0 {fmed}, "
              f"onsets/s {len(ons) / max(1e-9, on.sum() * 512 / sr):.1f}, chroma notes {poly}")


def peak(pairs: list[str], sr: int = 11025) -> None:
    """SLUG:N ... -> solo-render peak (max of |L|, |R|, so surround does not cancel) against the mix peak."""
    from iram.data.openmpt import Module, lib
    from iram.data.samples import keep_only, layout

    def render(data: bytes, name: str) -> np.ndarray:
        m, so, out = Module(data, name), lib(), []
        buf = np.zeros((2, 1 << 15), np.float32)
        while n := so.openmpt_module_read_float_stereo(m._mod, sr, buf.shape[1], buf[0].ctypes.data, buf[1].ctypes.data):
            out.append(np.abs(buf[:, :n]).max(0))
        m.close()
        return np.concatenate(out)

    for arg in pairs:
        slug, n = arg.rsplit(":", 1)
        r = ROWS[slug]
        data = Path(r["path"]).read_bytes()
        samples, stems = layout(data, r["format"])
        st = [s for s in stems if s.n == int(n)]
        if not st:
            print(slug, n, "no stem: no such sample")
            continue
        y, mix = render(keep_only(data, samples, set(st[0].samples)), r["path"]), render(data, r["path"])
        print(slug, n, "sample bytes", [samples[i - 1].size for i in st[0].samples],
              f"stem peak {20 * np.log10(max(y.max(), 1e-12) / mix.max()):.0f} dB re mix peak")


if __name__ == "__main__":
    if sys.argv[1] == "peak":
        peak(sys.argv[2:])
    elif sys.argv[1] == "stats":
        stats(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
    else:
        probe(sys.argv[2], [int(x) for x in sys.argv[3:]])
