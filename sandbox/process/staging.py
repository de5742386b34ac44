"""The process sandbox's temporary folders, named after the process that owns them.

A cold run stages its files in `grader-run-*` and a zygote its jail in `grader-zygote-*`, both in
the temporary folder ($TMPDIR); a run's cgroups are named `grader-run-*` too (`cgroups.py`).
Each name carries its owner's tag, `<ns>.<pid>.<start>` (its pid namespace's inode, its pid, and
its start time in clock ticks after boot, from /proc), so a grader starting later tells the
leftovers of a dead owner (a SIGKILL, a crash, a power cut) from the folders a live grader still
uses, even when the pid has been reused. A folder is removed when its run or zygote ends, and
`sweep` removes what dead owners left. Names of another pid namespace (a container sharing the
folder) and names without a tag (made before tags existed) are never touched: nothing says
whether their owner lives.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

#: `grader-run-<ns>.<pid>.<start>-<random>`, `grader-zygote-<ns>.<pid>.<start>-<random>`.
OWNED = re.compile(r"^grader-(?:run|zygote)-(\d+)\.(\d+)\.(\d+)-")


def start_ticks(pid: int) -> str | None:
    """When the process `pid` started (clock ticks after boot), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_namespace() -> str:
    """This process's pid namespace, by its inode (pids of another one mean nothing here)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def owner_tag(pid: int | None = None) -> str:
    """The tag of process `pid` (this one by default), as its folders' and cgroups' names carry
    it: `<ns>.<pid>.<start>`."""
    pid = pid or os.getpid()
    return f"{pid_namespace()}.{pid}.{start_ticks(pid) or 0}"


def owner_gone(name: str) -> bool:
    """Whether `name` carries a tag of this pid namespace whose process has ended (False for a
    live owner, another namespace's, or none)."""
    found = OWNED.match(name)
    if found is None:
        return False
    namespace, pid, started = found.groups()
    return namespace == pid_namespace() and start_ticks(int(pid)) != started


def make(kind: str) -> Path:
    """A new private folder `grader-<kind>-<tag>-<random>` in the temporary folder."""
    return Path(tempfile.mkdtemp(prefix=f"grader-{kind}-{owner_tag()}-"))


def remove(folder: Path) -> None:
    """Delete a staging folder; `rmtree` never follows symlinks (none are expected there)."""
    shutil.rmtree(folder, ignore_errors=True)


def sweep(folder: Path | None = None) -> list[Path]:
    """Remove the staging folders of dead owners from `folder` (the temporary folder); only
    real directories this user owns, never a link someone else planted. Returns what went."""
    root = Path(folder or tempfile.gettempdir())
    gone = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            if not owner_gone(entry.name) or not _ours(entry):
                continue
            remove(Path(entry.path))
            gone.append(Path(entry.path))
    if gone:
        log.warning("removed %d staging folder(s) of dead graders from %s", len(gone), root)
    return gone


def _ours(entry: os.DirEntry[str]) -> bool:
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
