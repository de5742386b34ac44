"""An item's fingerprint: what its grading depends on, hashed, so a regrade can tell whether the
item's fix changed anything for a submission graded before it.

It covers the item as loaded (every field of its file, checks and keys included; for an item with
params, its template too: every variant, not only the seed-0 one stored), the data files a code
item names, and its reference solution (which computes the expected values). A former id (plain
or a fixed variant's) has its item's fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from grader.bank import Bank
from grader.errors import GraderError
from grader.models import CodeItem


def item_fingerprint(bank: Bank, item_id: str, solutions: Path) -> str | None:
    """The item's fingerprint; None when it cannot be read (it then always counts as changed)."""
    item = bank.items.get(bank.item_of(item_id))  # a former id: its item's
    if item is None:
        return None
    digest = hashlib.sha256(item.model_dump_json().encode("utf-8"))
    if item._source is not None:  # a template: a fix may change only variants other than seed 0
        source = json.dumps(item._source, sort_keys=True, default=str)
        digest.update(b"\0source\0" + source.encode("utf-8"))
    if isinstance(item, CodeItem):
        try:
            files = bank.data_files(item)
        except GraderError:
            return None
        for name, content in sorted(files.items()):
            digest.update(b"\0" + name.encode("utf-8") + b"\0" + content)
        reference = solutions / item.id / "reference.py"
        if reference.is_file():
            digest.update(b"\0reference\0" + reference.read_bytes())
    return digest.hexdigest()
