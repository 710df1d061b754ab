"""Sound sources on this machine, each tagged with a role and a split.

A *source* is one instrument: a General MIDI program, a drum kit, a group of
samples, an espeak voice or a synthesis preset. Splits are made per source, so
the validation and test splits hold instruments that training never hears.
"""
from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import DataError
from ..roles import ROLES

SPLITS = ("train", "valid", "test")
SOUNDFONT_CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2",)
HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")
SAMPLES_ENV = "IRAM_SAMPLES"
SAMPLES_CANDIDATES = (
    Path.home() / ".cache/iram/sonic-pi/node_modules/supersonic-scsynth-samples/samples",
    Path("/usr/local/share/iram/sonic-pi/node_modules/supersonic-scsynth-samples/samples"),
)


@dataclass(frozen=True)
class Source:
    """One instrument. ``kind`` picks the renderer; ``ref`` says which instrument."""

    role: str
    kind: str  # gm | gmdrums | kit | break | sample | synth | espeak | formant | recorded
    ref: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.ref}"


def soundfont_path() -> Path:
    for p in SOUNDFONT_CANDIDATES:
        if Path(p).exists():
            return Path(p)
    raise DataError("FluidR3 soundfont not found at /usr/share/sounds/sf2/FluidR3_GM.sf2; install Debian package fluid-soundfont-gm")


def samples_dir() -> Path:
    cands = [Path(os.environ[SAMPLES_ENV])] if SAMPLES_ENV in os.environ else list(SAMPLES_CANDIDATES)
    for p in cands:
        if p.is_dir() and any(p.glob("*.flac")):
            return p
    raise DataError(
        f"Sonic Pi samples not found ({cands[0]}); run .ci/setup-system.sh or "
        f"'npm install --prefix ~/.cache/iram/sonic-pi supersonic-scsynth-samples', or set {SAMPLES_ENV}"
    )


def check_sources() -> None:
    """Raise DataError naming the package that provides a missing source."""
    soundfont_path()
    samples_dir()
    if not HYDROGEN_DIR.is_dir():
        raise DataError(f"{HYDROGEN_DIR} not found; install Debian package hydrogen-drumkits")
    import shutil

    if shutil.which("espeak-ng") is None:
        raise DataError("espeak-ng not found; install Debian package espeak-ng")
    if not recorded_voices():
        raise DataError(f"no recorded voices found; install Debian packages {VOICE_PACKAGES} (or run .ci/setup-system.sh)")


# --- recorded voices ---------------------------------------------------------
# Real speakers from Debian packages (letters and syllables, single words, game voice
# packs). A source is one speaker group: KDE's two packages by language (the same
# language may be the same speaker in both), Hedgewars by pack name before "_"
# (Default, Default_uk, Default_ru... may share a voice). Groups split as units.
VOICE_DIRS = (
    ("kde", Path("/usr/share/klettres"), "*/*/*"),  # klettres-data: <lang>/{alpha,syllab}/x.ogg
    ("kde", Path("/usr/share/ktuberling/sounds"), "*/*"),  # ktuberling-data: <lang>/word.{ogg,opus,wav}
    ("hedgewars", Path("/usr/share/games/hedgewars/Data/Sounds/voices"), "*/*"),  # hedgewars-data: <pack>/x.ogg
)
VOICE_SUFFIXES = (".ogg", ".opus", ".wav")
VOICE_PACKAGES = "klettres-data ktuberling-data hedgewars-data"


@lru_cache(maxsize=None)
def recorded_voices() -> dict[str, tuple[Path, ...]]:
    """Recorded voice files per speaker group (``kde/fr``, ``hedgewars/Singer``), sorted; {} if none installed."""
    groups: dict[str, list[Path]] = {}
    for prefix, root, pattern in VOICE_DIRS:
        if not root.is_dir():
            continue
        for f in sorted(f for f in root.glob(pattern) if f.suffix in VOICE_SUFFIXES):
            top = f.relative_to(root).parts[0]
            key = top.split("_")[0].split("@")[0]  # en_GB -> en, sr@latin -> sr, Default_uk -> Default
            key = {"nn": "nb"}.get(key, key)  # Norwegian: possibly one speaker
            groups.setdefault(f"{prefix}/{key}", []).append(f)
    return {k: tuple(v) for k, v in sorted(groups.items())}


# --- drum kits -------------------------------------------------------------
DRUM_PATTERNS = {
    "kick": r"kick|bass ?drum|\bbd\b|bassdrum|\bk\b",
    "snare": r"snare|rim",
    "clap": r"clap|snap",
    "hat": r"closed|hh|hat|hi-hat|pedal",
    "open": r"open|\bop\b",
    "tom": r"tom|conga|bongo|djembe|tabla",
    "cymbal": r"crash|ride|cymbal|splash",
    "perc": r"cowbell|clave|wood|shaker|maraca|tambourine|stick|click|zap|cajon",
}


def _category(name: str) -> str | None:
    n = name.lower()
    if re.search(r"open|\bop\b", n) and re.search(r"hat|hh|hi", n):
        return "open"
    for cat, pat in DRUM_PATTERNS.items():
        if cat != "open" and re.search(pat, n):
            return cat
    return None


@lru_cache(maxsize=None)
def hydrogen_kit(name: str) -> dict[str, tuple[Path, ...]]:
    """Map drum categories to sample files of one Hydrogen kit."""
    folder = HYDROGEN_DIR / name
    root = ET.parse(folder / "drumkit.xml").getroot()
    ns = re.match(r"\{.*\}", root.tag)
    prefix = ns.group(0) if ns else ""
    kit: dict[str, list[Path]] = {}
    for inst in root.iter(prefix + "instrument"):
        nm = inst.findtext(prefix + "name") or ""
        files = [e.text for e in inst.iter(prefix + "filename") if e.text]
        cat = _category(nm)
        if cat and files and (folder / files[0]).exists():
            kit.setdefault(cat, []).append(folder / files[0])
    return {k: tuple(v) for k, v in kit.items()}


def _hydrogen_kits() -> list[str]:
    if not HYDROGEN_DIR.is_dir():
        return []
    kits = []
    for d in sorted(HYDROGEN_DIR.iterdir()):
        if (d / "drumkit.xml").exists():
            k = hydrogen_kit(d.name)
            if "kick" in k or "tom" in k:
                kits.append(d.name)
    return kits


# --- the catalogue ----------------------------------------------------------
GM = {
    "bass": [32, 33, 34, 35, 36, 37, 38, 39, 43, 58, 87],
    "chord": [0, 1, 2, 4, 5, 16, 17, 18, 19, 24, 25, 26, 27, 29, 48, 49, 50, 51, 61, 62, 88, 89, 90, 91, 92, 94, 95, 46],
    "melody": [8, 9, 10, 11, 12, 13, 14, 40, 41, 56, 57, 64, 65, 66, 68, 71, 72, 73, 74, 75, 78, 79, 80, 81, 82, 83, 84, 86, 105, 107, 108],
    "fx": [96, 97, 98, 99, 101, 102, 103, 119, 120, 121, 122, 123, 124, 125, 126, 127],
    "voice": [52, 53, 54, 85],
    "percussion": [47, 112, 113, 114, 115, 116, 117, 118],
}
GM_DRUM_KITS = [0, 8, 16, 24, 25, 32, 40, 48]
SYNTH = {
    "bass": ["sub808", "reese", "acid", "fmbass", "squarebass", "wobble", "pluckbass"],
    "chord": ["supersaw", "squarestab", "organ", "softpad", "pluckchord", "fmkeys"],
    "melody": ["sawlead", "squarelead", "fmbell", "kspluck", "sinelead", "arpsquare"],
    "fx": ["riser", "downlifter", "impact", "reversecrash", "noisesweep", "glitch", "laser"],
    "percussion": ["synthdrums909", "synthdrums808", "glitchperc"],
    "voice": [],
}
ESPEAK_VOICES = [
    "en+m1", "en+m3", "en+f2", "en+f4", "en-us+m2", "en-us+f1", "en-us+f3", "en-us+m7", "en-gb-scotland+m4",
    "en-029+f5", "de+m2", "de+f3", "fr+m1", "fr+f2", "es+m3", "es+f1", "it+f4", "it+m2", "pt+m5",
    "nl+f1", "sv+m1", "pl+f2", "hi+m2", "sw+f3", "ja+f1", "en+whisper", "en+croak", "en-us+klatt",
]
FORMANT_VOICES = ["soprano", "alto", "tenor", "bass", "child", "breathy"]
SAMPLE_GROUPS = {
    "fx": ["ambi_dark_woosh", "ambi_drone", "ambi_glass_hum", "ambi_glass_rub", "ambi_haunted_hum", "ambi_lunar_land",
           "ambi_sauna", "ambi_soft_buzz", "ambi_swoosh", "vinyl_backspin", "vinyl_hiss", "vinyl_rewind", "vinyl_scratch",
           "misc_cineboom", "perc_impact1", "perc_impact2", "perc_swoosh", "perc_swash", "tbd_fxbed_loop",
           "mehackit_phone1", "mehackit_phone2", "misc_crow", "elec_flip"],
    "bass": ["bass_dnb_f", "bass_drop_c", "bass_hard_c", "bass_hit_c", "bass_thick_c", "bass_trance_c",
             "bass_woodsy_c"],
    "chord": ["tbd_pad_1", "tbd_pad_2", "tbd_pad_3", "tbd_pad_4", "ambi_piano", "guit_em9"],
    "melody": ["elec_bell", "elec_chime", "tbd_highkey_c4", "elec_ping", "perc_bell", "elec_twang", "elec_blup"],
    "voice": ["ambi_choir", "tbd_voctone", "bass_voxy_c", "mehackit_robot1", "mehackit_robot3", "glitch_robot1", "glitch_robot2"],
}
BREAKS = {  # Sonic Pi's loops and the beats each holds (madmom's beat tracker on the loop repeated: eval/break_beats.py)
    "loop_amen": 4, "loop_amen_full": 16, "loop_breakbeat": 4, "loop_compus": 16, "loop_industrial": 2, "loop_mika": 16,
    "loop_safari": 16, "loop_tabla": 32, "loop_perc1": 4, "loop_perc2": 4, "loop_mehackit1": 8, "loop_mehackit2": 4,
    "loop_garzul": 16, "arovane_beat_a": 32, "arovane_beat_b": 32, "arovane_beat_c": 16,
    "arovane_beat_d": 24,  # madmom hears 12 beats at 65 BPM: the half of arovane_beat_e's 130
    "arovane_beat_e": 24,
}
SP_KITS = {  # drum kits assembled from Sonic Pi one-shots
    "sp_808": {"kick": ["bd_808", "bd_boom"], "snare": ["sn_dub", "elec_snare"], "clap": ["perc_snap"], "hat": ["hat_cab", "hat_snap"], "open": ["drum_cymbal_open"]},
    "sp_haus": {"kick": ["bd_haus", "bd_klub"], "snare": ["sn_generic"], "clap": ["perc_snap2"], "hat": ["hat_bdu", "hat_gem"], "open": ["hat_psych"]},
    "sp_tek": {"kick": ["bd_tek", "bd_fat"], "snare": ["sn_zome", "elec_hi_snare"], "hat": ["hat_zild", "hat_tap"], "open": ["hat_metal"]},
    "sp_elec": {"kick": ["elec_soft_kick", "elec_hollow_kick"], "snare": ["elec_mid_snare", "elec_lo_snare"], "hat": ["elec_tick", "hat_zap"], "perc": ["elec_blip", "elec_wood"]},
    "sp_acoustic": {"kick": ["drum_heavy_kick", "drum_bass_hard"], "snare": ["drum_snare_hard", "drum_snare_soft"], "hat": ["drum_cymbal_closed", "drum_cymbal_pedal"], "open": ["drum_cymbal_open"], "tom": ["drum_tom_mid_hard", "drum_tom_lo_hard"]},
    "sp_zome": {"kick": ["bd_zome", "bd_zum"], "snare": ["sn_dolf"], "hat": ["hat_raw", "hat_yosh"], "open": ["hat_noiz"], "perc": ["perc_till"]},
    "sp_glitch": {"kick": ["bd_gas", "bd_sone"], "snare": ["glitch_perc1", "glitch_perc2"], "hat": ["glitch_perc3", "hat_star"], "perc": ["glitch_perc4", "glitch_perc5"]},
    "sp_tabla": {"kick": ["tabla_ghe1", "tabla_ghe4"], "snare": ["tabla_na", "tabla_tas1"], "hat": ["tabla_te1", "tabla_ke1"], "tom": ["tabla_tun1", "tabla_re"]},
    "sp_chip": {"kick": ["bd_chip", "bd_pure"], "snare": ["elec_filt_snare"], "hat": ["hat_gnu", "hat_hier"], "open": ["hat_len"]},
    "sp_mehackit": {"kick": ["bd_mehackit", "bd_ada"], "snare": ["sn_generic"], "hat": ["hat_cats", "hat_gump"], "open": ["hat_mess"], "perc": ["drum_cowbell"]},
}


def catalogue() -> list[Source]:
    """Every source on this machine, in a fixed order."""
    out: list[Source] = []
    for role, progs in GM.items():
        out += [Source(role, "gm", str(p)) for p in progs]
    out += [Source("percussion", "gmdrums", str(k)) for k in GM_DRUM_KITS]
    out += [Source("percussion", "kit", k) for k in _hydrogen_kits()]
    out += [Source("percussion", "spkit", k) for k in SP_KITS]
    out += [Source("percussion", "break", b) for b in BREAKS]
    for role, names in SYNTH.items():
        out += [Source(role, "synth", n) for n in names]
    for role, names in SAMPLE_GROUPS.items():
        out += [Source(role, "sample", n) for n in names]
    out += [Source("voice", "espeak", v) for v in ESPEAK_VOICES]
    out += [Source("voice", "formant", v) for v in FORMANT_VOICES]
    out += [Source("voice", "recorded", g) for g in recorded_voices()]
    return out


def _rank(s: Source) -> int:
    return int(hashlib.sha1(s.id.encode()).hexdigest()[:8], 16)


@lru_cache(maxsize=None)
def split_of() -> dict[str, str]:
    """Assign each source to train/valid/test, within each (role, kind) group.

    About 70/15/15 per group, with at least one test and one valid source in
    every group of three or more, so each split sees every kind of sound.
    """
    groups: dict[tuple[str, str], list[Source]] = {}
    for s in catalogue():
        groups.setdefault((s.role, s.kind), []).append(s)
    out: dict[str, str] = {}
    for members in groups.values():
        members = sorted(members, key=_rank)
        n = len(members)
        n_test = max(1, round(0.15 * n)) if n >= 3 else 0
        n_valid = max(1, round(0.15 * n)) if n >= 3 else 0
        for i, s in enumerate(members):
            out[s.id] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    return out


def sources_for(role: str, split: str) -> list[Source]:
    if role not in ROLES:
        raise DataError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose train, valid or test")
    sp = split_of()
    return [s for s in catalogue() if s.role == role and sp[s.id] == split]


def prepare(n: int, split: str, out, *, what: str) -> Path:
    """Check the arguments of a corpus command and the sources it needs; make ``out``."""
    from ..io import output_dir

    if n <= 0:
        raise DataError(f"--n must be a positive number of {what}, got {n}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose train, valid or test")
    check_sources()
    return output_dir(out, option="--out", error=DataError)
