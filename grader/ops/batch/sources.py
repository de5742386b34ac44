"""What a batch grades: the submissions PATHs hold (files, folders, LMS zips), and a Reader
that turns each into a Source, zip members read in memory and capped."""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType

from grader.errors import BadInput, BadSubmission
from grader.grading.submission import MAX_SUBMISSION_BYTES, Source, read_submission
from grader.grading.submission import source_from_bytes as source_of

MiB = 1024 * 1024
#: A zip with more entries than this is refused whole (an LMS export holds one or a few per
#: student); so is one whose .py/.ipynb members declare more than `MAX_ZIP_BYTES` in all.
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_BYTES = 256 * MiB
SUFFIXES = (".py", ".ipynb")
#: Folders of no submission: Python's caches, macOS's zip metadata (hidden names are skipped too).
SKIPPED = ("__pycache__", "__MACOSX")
#: What reading a zip member may raise (zipfile raises several kinds for one broken file).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    ValueError,
    KeyError,
)
#: Canvas: `lastfirst_12345_67890_file.py` (`lastfirst_LATE_12345_...` when late): the student is
#: the part before the first `_`. Moodle: a folder `Full Name_12345_assignsubmission_file_`.
CANVAS = re.compile(r"^([^_]+)_(?:LATE_)?\d+_\d+_.")
MOODLE = re.compile(r"^(.+?)_\d+_assignsubmission_[a-z]+_?$")


@dataclass(frozen=True)
class Entry:
    """One submission: `name` is stable (the path, or `ZIP!MEMBER`), `label` is its path
    relative to the PATH it came from (its report's file name comes from it), and `refused`
    says why it cannot be graded when that is known before reading it."""

    name: str
    label: str
    student: str
    path: Path
    member: str | None = None
    refused: str | None = None


def student_of(relative: str) -> str:
    """The student a file belongs to, from its path as an LMS export names it: a Canvas file
    name's first part, a Moodle folder's name part; otherwise the file's stem."""
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if match := CANVAS.match(parts[-1]):
        return match.group(1)
    for part in reversed(parts[:-1]):
        if match := MOODLE.match(part):
            return match.group(1)
    return PurePosixPath(parts[-1]).stem


def collect(paths: Sequence[Path]) -> tuple[list[Entry], list[Path]]:
    """The submissions in `paths`, in order (a folder's and a zip's sorted), each once; and the
    folders and zips that hold none. `BadInput` for a PATH that does not exist."""
    for path in paths:
        if not path.exists():
            raise BadInput(f"{path}: no such file or folder")
    entries: list[Entry] = []
    empty: list[Path] = []
    seen: set[tuple[Path, str | None]] = set()
    for path in paths:
        found = list(_entries(path))
        if not found and (path.is_dir() or _is_zip(path)):
            empty.append(path)
        for entry in found:
            key = (entry.path.resolve(), entry.member)
            if key not in seen:
                seen.add(key)
                entries.append(entry)
    return entries, empty


def _entries(path: Path) -> Iterator[Entry]:
    if path.is_dir():
        for file in _walk(path):
            relative = file.relative_to(path).as_posix()
            yield Entry(str(file), relative, student_of(relative), file)
    elif _is_zip(path):
        yield from zip_entries(path)
    else:  # named on its own: graded whatever its suffix (a wrong one is its row's reason)
        yield Entry(str(path), path.name, student_of(path.name), path)


def _is_zip(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".zip"


def _walk(folder: Path) -> Iterator[Path]:
    """Submission files under `folder`, sorted by relative path; no hidden name, no cache, no
    symlinked folder followed."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if _wanted_part(d)]
        found += [Path(root, f) for f in files if _wanted_part(f) and _submission_name(f)]
    return iter(sorted(found, key=lambda p: p.relative_to(folder).parts))


def _wanted_part(name: str) -> bool:
    return not name.startswith(".") and name not in SKIPPED


def _submission_name(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def zip_entries(path: Path) -> list[Entry]:
    """A zip's .py/.ipynb members, by name; the zip alone, refused, when it cannot be opened,
    has too many entries or declares too many bytes in all."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return [_refused_zip(path, f"not a readable zip file ({one_line(exc)})")]
    if len(infos) > MAX_ZIP_MEMBERS:
        why = f"{len(infos)} entries, over the {MAX_ZIP_MEMBERS} a zip may hold; not read"
        return [_refused_zip(path, why)]
    members = sorted((i for i in infos if _zip_submission(i)), key=lambda i: i.filename)
    declared = sum(i.file_size for i in members)
    if declared > MAX_ZIP_BYTES:
        why = f"its files declare {_size(declared)} in all, over {_size(MAX_ZIP_BYTES)}"
        return [_refused_zip(path, f"{why}; not read")]
    return [_member_entry(path, info) for info in members]


def _zip_submission(info: zipfile.ZipInfo) -> bool:
    *folders, name = info.filename.replace("\\", "/").split("/")
    # `..`, `.` and empty parts are let through here to be refused by name (`_member_entry`).
    shown = all(_wanted_part(p) or p in ("", ".", "..") for p in folders)
    return not info.is_dir() and shown and _wanted_part(name) and _submission_name(name)


def _member_entry(path: Path, info: zipfile.ZipInfo) -> Entry:
    member = info.filename
    name, label = f"{path}!{member}", f"{path.stem}!{member}"
    refused = None
    parts = member.replace("\\", "/").split("/")
    if member.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", member) or ".." in parts:
        refused = f"{name}: an absolute or `..` name in the zip; not read"
    elif info.file_size > MAX_SUBMISSION_BYTES:
        refused = f"{name}: larger than {MAX_SUBMISSION_BYTES // 1024} KiB; submit only your code"
    return Entry(name, label, student_of(member), path, member, refused)


def _refused_zip(path: Path, why: str) -> Entry:
    return Entry(str(path), path.name, "", path, refused=f"{path}: {why}")


def _size(count: int) -> str:
    if count >= MiB:
        return f"{count / MiB:.4g} MiB"
    return f"{count / 1024:.4g} KiB" if count >= 1024 else f"{count} bytes"


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


class Reader:
    """Reads submissions one at a time (one thread): files as `grader check` reads them, zip
    members in memory (never extracted) with each zip opened once, every read capped at
    `MAX_SUBMISSION_BYTES` and a zip's reads at `MAX_ZIP_BYTES` in all, whatever its headers
    say. Close it (or use `with`) to close the zips."""

    def __init__(self) -> None:
        self._zips: dict[Path, zipfile.ZipFile] = {}
        self._inflated: dict[Path, int] = {}

    def read(self, entry: Entry) -> Source:
        """The entry as a Source; `BadSubmission` with the one-line reason when it is none."""
        if entry.refused is not None:
            raise BadSubmission(entry.refused)
        if entry.member is None:
            return read_submission(entry.path)
        return source_of(self._member(entry, entry.member), entry.name)

    def _member(self, entry: Entry, member: str) -> bytes:
        try:
            archive = self._zips.get(entry.path) or self._open(entry.path)
            with archive.open(member) as handle:
                data = handle.read(MAX_SUBMISSION_BYTES + 1)
        except ZIP_ERRORS as exc:  # a bad CRC, an encrypted or unsupported member, a cut file
            raise BadSubmission(
                f"{entry.name}: cannot read it from the zip ({one_line(exc)})"
            ) from exc
        if len(data) > MAX_SUBMISSION_BYTES:  # inflated past what its header declared
            limit = MAX_SUBMISSION_BYTES // 1024
            raise BadSubmission(f"{entry.name}: larger than {limit} KiB; submit only your code")
        total = self._inflated.get(entry.path, 0) + len(data)
        self._inflated[entry.path] = total
        if total > MAX_ZIP_BYTES:
            raise BadSubmission(
                f"{entry.name}: the zip's files inflate to over {_size(MAX_ZIP_BYTES)} in all; "
                "the rest of it is not read"
            )
        return data

    def _open(self, path: Path) -> zipfile.ZipFile:
        archive = self._zips[path] = zipfile.ZipFile(path)
        return archive

    def close(self) -> None:
        for archive in self._zips.values():
            archive.close()
        self._zips.clear()

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
