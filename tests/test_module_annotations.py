"""The tracker-module annotation tables are consistent: schema, role names, split rules.

These check the committed files themselves (annotations/modules/), not audio.
"""
import csv
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "annotations" / "modules"
ROLES = ("percussion", "bass", "chord", "melody", "fx", "voice")
SPLITS = ("train", "valid", "test", "exclude")


@pytest.fixture(scope="module")
def table():
    with open(HERE / "modules.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def roles():
    return json.loads((HERE / "roles.json").read_text(encoding="utf-8"))


def test_table_schema(table):
    assert len(table) == 117
    assert len({r["slug"] for r in table}) == 117
    for r in table:
        assert r["slug"] == re.sub(r"[^a-z0-9]+", "-", f"{r['package']}-{Path(r['path']).stem}".lower())
        assert r["split"] in SPLITS and r["electronic"] in ("yes", "no") and r["count_from"] in ("pattern", "song")
        assert int(r["rows_per_beat"]) >= 1 and int(r["beats_per_bar"]) >= 1 and int(r["downbeat_row"]) >= 0
        assert r["why"].strip() and r["composer"].strip()
        assert r["package"] != "lmms"


def test_splits_by_package_and_composer(table):
    by_package, by_composer = defaultdict(set), defaultdict(set)
    for r in table:
        if r["split"] != "exclude":
            by_package[r["package"]].add(r["split"])
            by_composer[r["composer"]].add(r["split"])
    assert all(len(s) == 1 for s in by_package.values()), by_package
    assert all(len(s) == 1 for s in by_composer.values()), by_composer
    assert {s for ss in by_package.values() for s in ss} == {"train", "valid", "test"}


def test_roles_cover_every_kept_module(table, roles):
    kept = {r["slug"] for r in table if r["split"] != "exclude"}
    assert kept <= set(roles)
    for slug, inst in roles.items():
        for n, e in inst.items():
            assert n.isdigit() and int(n) >= 1
            assert e["role"] in ROLES + ("none",), (slug, n)
            assert set(e.get("alt_roles", [])) <= set(ROLES), (slug, n)
            assert e["role"] not in e.get("alt_roles", []), (slug, n)
            assert e["why"].strip()
            for ch in e.get("changes", []):
                first, last = ch["orders"]
                assert 0 <= first <= last and ch["role"] in ROLES + ("none",)


def test_test_and_valid_roles_are_reviewed(table, roles):
    held = [r["slug"] for r in table if r["split"] in ("test", "valid")]
    drafted = [(s, n) for s in held for n, e in roles[s].items() if e["why"].startswith("draft:")]
    assert not drafted
