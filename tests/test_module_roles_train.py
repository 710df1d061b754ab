"""The second annotator's train-split roles (annotations/modules/roles-train.json) fit roles.json for merging."""
import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "annotations" / "modules"
ROLES = ("percussion", "bass", "chord", "melody", "fx", "voice")


def test_roles_train_covers_train_split_with_roles_json_numbering():
    with open(HERE / "modules.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    train = {r["slug"] for r in rows if r["split"] == "train"}
    excluded = {r["slug"] for r in rows if r["split"] == "exclude"}
    first = json.loads((HERE / "roles.json").read_text(encoding="utf-8"))
    second = json.loads((HERE / "roles-train.json").read_text(encoding="utf-8"))
    assert train <= set(second) <= train | excluded  # a module excluded after labelling keeps its labels
    for slug, inst in second.items():
        assert set(inst) == set(first[slug]), slug  # same instruments, so either file's entry can be used
        for n, e in inst.items():
            assert e["role"] in ROLES + ("none",) and set(e["alt_roles"]) <= set(ROLES), (slug, n)
            assert e["role"] not in e["alt_roles"] and e["why"].strip(), (slug, n)
            assert not e["why"].startswith("draft"), (slug, n)
            for ch in e.get("changes", []):
                assert 0 <= ch["orders"][0] <= ch["orders"][1] and ch["role"] in ROLES, (slug, n)
