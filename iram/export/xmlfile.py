"""DJ libraries that are XML files (rekordbox, Traktor): parse, merge one track at a time, write safely.

Only what iram adds or removes changes: comments are kept, new elements are indented like
their siblings, and a removed element gives its layout back, so the DJ's part of the file
reads as it did.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..errors import ExportError
from ..io import atomic_path
from .library import check_writable, copy_file, keep_backups, load_ledger, locked, owned, save_ledger, widened


def read_library(path: Path, root: str, library: str, hint: str):
    """Parse a DJ library XML whose root is ``root`` and holds a COLLECTION (comments kept)."""
    import xml.etree.ElementTree as ET

    try:
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
        tree = ET.parse(path, parser=parser)
    except (ET.ParseError, OSError, UnicodeDecodeError) as err:
        raise ExportError(f"{path}: not readable XML ({err}); repair it (iram export --restore {path} puts back "
                          f"the copy iram kept, if any) or give {hint} or a new file name") from err
    if tree.getroot().tag != root or tree.getroot().find("COLLECTION") is None:
        raise ExportError(f"{path}: not a {library} (no {root}/COLLECTION); give {hint} or a new file name")
    return tree


def append_child(parent, tag: str, attrs: dict):
    """Add an element after ``parent``'s last child, indented like its siblings (the rest is left as it was)."""
    import xml.etree.ElementTree as ET

    el = ET.Element(tag, attrs)
    if len(parent):
        el.tail = parent[-1].tail
        parent[-1].tail = parent[-2].tail if len(parent) > 1 else parent.text
    else:
        outer = parent.tail if parent.tail and not parent.tail.strip() else "\n"
        parent.text = outer + "  "
        el.tail = outer
    parent.append(el)
    return el


def remove_child(parent, el) -> None:
    """Remove ``el`` and give its layout back, so what remains reads as before it was added."""
    kids = list(parent)
    k = kids.index(el)
    if k == len(kids) - 1:
        if k:
            kids[k - 1].tail = el.tail
        else:
            parent.text = None
    parent.remove(el)


def write_xml(tree, tmp: Path, original: Path | None) -> None:
    """Serialise ``tree``; an existing file's prolog (declaration, comments) and ending are kept as they were."""
    import xml.etree.ElementTree as ET

    root = tree.getroot()
    head, tail = '<?xml version="1.0" encoding="UTF-8"?>\n', "\n"
    try:
        text = original.read_text(encoding="utf-8") if original is not None and original.exists() else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    if text:
        start, end = text.find("<" + root.tag), text.rfind("</" + root.tag + ">")
        if start >= 0:
            head = text[:start]
        if end >= 0:
            tail = text[end + len(root.tag) + 3:]
    tmp.write_text(head + ET.tostring(root, encoding="unicode") + tail, encoding="utf-8")


def drop_owned(parent, tag: str, written: list) -> None:
    """Remove the ``tag`` children of ``parent`` that match iram's ledger record ``written`` exactly."""
    marks = parent.findall(tag)
    for m, ours in zip(marks, owned([dict(m.attrib) for m in marks], written)):
        if ours:
            remove_child(parent, m)


def merge(results, target: Path, *, fmt: str, read: Callable, new_tree: Callable, merge_track: Callable,
          count: tuple[str, str], check: Callable | None = None) -> list[str]:
    """Merge every Analysis of ``results`` into the XML library ``target``, once, under its lock.

    ``merge_track(collection, analysis, ledger) -> report line`` edits one track and records in
    ``ledger["tracks"]`` what it wrote; ``count`` is (child tag, attribute) of the collection's
    entry count; ``check(tmp, target)`` may refuse the new file before it replaces the old one.
    """
    target = Path(target)
    check_writable(target)
    with locked(target) as d:
        tree = read(target) if target.exists() else new_tree()
        ledger = load_ledger(d, fmt)
        before = json.loads(json.dumps(ledger))
        coll = tree.getroot().find("COLLECTION")
        lines = [merge_track(coll, a, ledger) for a in results]
        n = str(len(coll.findall(count[0])))
        if coll.get(count[1]) != n:
            coll.set(count[1], n)
        with atomic_path(target) as tmp:
            write_xml(tree, tmp, target)
            if check is not None:
                check(tmp, target)
            keep_backups(d, target.exists(), copy_file(target))
            save_ledger(d, widened(before, ledger))  # old and new records both vouch while the library changes
        save_ledger(d, ledger)
    return lines
