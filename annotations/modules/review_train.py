"""Build roles-train.json from review-train.txt (second annotator, train split; research code).

Usage (from the repository root):
    python annotations/modules/review_train.py STATS_DIR [--out annotations/modules/roles-train.json]

STATS_DIR holds one ``<slug>.json`` per module as written by ``draft.py``'s ``collect`` (its
``instruments`` give the names and which instruments play a note). Every instrument that plays
must have a review line; a missing or unknown one is an error, so nothing is accepted unread.
Line format: ``slug n role alt,alt|- why...``; ``slug n changes a-b:role[/alt,alt] ...``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

ROLES = {"percussion", "bass", "chord", "melody", "fx", "voice", "none"}


def read(path: Path) -> dict:
    """review-train.txt parsed by draft.py's ``read_review`` (same line format), every role checked."""
    spec = importlib.util.spec_from_file_location("draft", Path(__file__).with_name("draft.py"))
    draft = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(draft)
    out = draft.read_review(path)
    for sl, m in out.items():
        for n, e in m.items():
            assert n != "*", f"{sl}: '* checked' is not allowed here; every instrument needs its own line"
            roles = [e.get("role", "none")] + e.get("alt_roles", [])
            roles += [r for c in e.get("changes", []) for r in [c["role"]] + c["alt_roles"]]
            assert set(roles) <= ROLES, f"{sl} {n}: unknown role in {roles}"
            assert e.get("role") not in e.get("alt_roles", []), f"{sl} {n}: role repeated in alt_roles"
            assert "role" not in e or e["why"], f"{sl} {n}: no why"
    return out


def compare(first: dict, second: dict) -> str:
    """The hard disagreements (neither role among the other's role/alt_roles), as text with counts."""
    from collections import Counter
    hard, soft, same, pairs = [], 0, 0, Counter()
    for sl, m in second.items():
        for n, e in m.items():
            f = first[sl][n]
            if f["role"] == e["role"]:
                same += 1
            elif f["role"] in e["alt_roles"] or e["role"] in f.get("alt_roles", []):
                soft += 1
            else:
                hard.append(f"{sl} {n} {e['name']!r} | first: {f['role']} {f.get('alt_roles', [])} {f['why']} | "
                            f"second: {e['role']} {e['alt_roles']} {e['why']}")
                pairs[(f["role"], e["role"])] += 1
    tot = sum(map(len, second.values()))
    drafts = sum(1 for sl in second for n in second[sl] if first[sl][n]["why"].startswith("draft"))
    head = ["# Hard disagreements between roles.json (first annotator) and roles-train.json (second annotator),",
            "# train split: neither annotator's role is among the other's role/alt_roles.",
            f"# {tot} instruments in {len(second)} modules: same role {same} ({same / tot:.1%}); "
            f"the other's role among the alt_roles {soft}; hard {len(hard)}.",
            f"# {drafts} of the first annotator's {tot} train entries are drafts accepted with '* checked' (why starts 'draft').",
            "# Most frequent (first -> second): " + ", ".join(f"{x}->{y} {c}" for (x, y), c in pairs.most_common(8)),
            "# slug n name | first: role [alts] why | second: role [alts] why"]
    return "\n".join(head + hard) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stats")
    here = Path(__file__).parent
    ap.add_argument("--review", default=str(here / "review-train.txt"))
    ap.add_argument("--out", default=str(here / "roles-train.json"))
    ap.add_argument("--compare", default=str(here / "roles-train-disagreements.txt"),
                    help="write the hard disagreements with roles.json here ('' to skip)")
    a = ap.parse_args()
    review = read(Path(a.review))
    out = {}
    for sl, rv in review.items():
        st = json.loads((Path(a.stats) / f"{sl}.json").read_text())
        played = st["instruments"]
        missing = sorted(set(played) - set(rv), key=int)
        extra = sorted(set(rv) - set(played), key=int)
        assert not missing and not extra, f"{sl}: unreviewed {missing}, not played {extra}"
        m = {}
        for n in sorted(played, key=int):
            r = rv[n]
            assert "role" in r, f"{sl} {n}: changes without a role line"
            m[n] = {"name": played[n]["name"].strip(), "role": r["role"], "alt_roles": r["alt_roles"], "why": r["why"]}
            if r.get("changes"):
                m[n]["changes"] = r["changes"]
        out[sl] = m
    Path(a.out).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(out)} modules, {sum(map(len, out.values()))} instruments -> {a.out}")
    if a.compare:
        text = compare(json.loads((here / "roles.json").read_text()), out)
        Path(a.compare).write_text(text)
        print(*text.splitlines()[2:5], sep="\n")


if __name__ == "__main__":
    main()
