"""Expected values computed by running an item's reference solution, cached by content hash.

The reference runs in its own sandbox run with the same probe plan as the student's; its
observations stay on the host. The cache key covers the reference source, the probes and the
harness, so editing any of them recomputes.

An item that varies has a reference per variant: its `reference.py` is a template rendered with
the variant's values (`grader.bank.solutions.solution_source`), and the variant's values are in
the cache key too, so two variants never share an observation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.errors import BankError, BankIssue
from grader.files import read_json, write_whole
from grader.models import Check, CodeItem
from grader.probe.channel import Observations
from grader.probe.harness import harness_digest
from grader.probe.plan import reference_plan, variant_id
from grader.probe.run import run_harness
from grader.probe.summaries import Observation
from sandbox.base import Sandbox

#: Seeds per item: a student run draws one; the reference run computes them all.
POOL = 8
#: Item objects whose reference plan key is remembered (`ReferenceStore._plan_key`).
_PLANS_KEPT = 256


#: The data files an item's runs are given (`Bank.data_files`); none by default.
DataFiles = Callable[[CodeItem], dict[str, bytes]]


def no_data(item: CodeItem) -> dict[str, bytes]:
    return {}


class ReferenceStore:
    """Reference observations per item, from the cache or a fresh sandbox run."""

    def __init__(
        self,
        sandbox: Sandbox,
        solutions: Path,
        cache: Path,
        data: DataFiles = no_data,
    ) -> None:
        self.sandbox = sandbox
        self.solutions = solutions
        self.cache = cache
        self.data = data
        self._read: dict[Path, Observations] = {}  # cache files already parsed, by path
        self._key: bytes | None = None
        #: The reference plan's content key by item object (the item held, so its id stays its
        #: own): building the plan is most of the host's own work per graded submission.
        self._plans: OrderedDict[int, tuple[CodeItem, str]] = OrderedDict()
        self._plans_lock = threading.Lock()
        self._flights: dict[Path, threading.Lock] = {}  # one reference run per cache file

    def reference_source(self, item: CodeItem) -> str:
        """The reference as it runs for `item` (a varying item's rendered for its variant)."""
        from grader.bank.solutions import solution_source

        path = self.solutions / item.id / "reference.py"
        if not path.is_file():
            raise BankError(
                [
                    BankIssue(
                        str(path),
                        1,
                        1,
                        "",
                        "missing reference solution; a check expects `from: reference`",
                    )
                ]
            )
        return solution_source(item, path)

    def labels(self, item: CodeItem, check: Check) -> list[Any] | None:
        """Held-out labels an accuracy check scores against; they never enter a sandbox."""
        if check.expect.accuracy is None:
            return None
        path = self.solutions / item.id / check.expect.accuracy.labels
        try:
            labels = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BankError([BankIssue(str(path), 1, 1, "", f"unreadable labels ({exc})")]) from exc
        return labels if isinstance(labels, list) else None

    def seeds(self, item: CodeItem) -> list[int]:
        """The item's seed pool: keyed by this installation's secret, so not known in advance."""
        key = self._seed_key()
        return [
            int.from_bytes(hmac.digest(key, f"{item.id}:{k}".encode(), "sha256")[:4], "big") >> 1
            for k in range(POOL)
        ]

    def _seed_key(self) -> bytes:
        """Made once per cache (atomically: the first writer wins), then read once."""
        if self._key is not None:
            return self._key
        path = self.cache / "seed-key"
        if not path.is_file():
            self.cache.mkdir(parents=True, exist_ok=True)
            draft = self.cache / f".seed-key-{secrets.token_hex(8)}"
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        self._key = bytes.fromhex(path.read_text().strip())
        return self._key

    def expected(self, item: CodeItem, check: Check, variant: int) -> Observation | None:
        """The reference's observation for this check (and seed, when its inputs vary)."""
        if not check.uses_reference():
            return None
        found = self.observations(item)
        return found.get(variant_id(check.name, variant) if check.varied else check.name)

    def observations(self, item: CodeItem) -> Observations:
        """The reference's observations for `item`: remembered, else read from the cache, else
        run once (graders asking at the same time wait for that one run) and cached."""
        source = self.reference_source(item)
        parts = [source, self._plan_key(item), harness_digest(), *_variant_key(item)]
        key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]
        cached = self.cache / f"{item.id}-{key}.json"
        found = self._read.get(cached)
        if found is not None:
            return found
        with self._flight(cached):
            found = self._read.get(cached) or _read_cached(cached)
            if found is None:
                found = self._run_reference(item, source, cached)
            self._read[cached] = found
            return found

    def _flight(self, cached: Path) -> threading.Lock:
        with self._plans_lock:
            return self._flights.setdefault(cached, threading.Lock())

    def _run_reference(self, item: CodeItem, source: str, cached: Path) -> Observations:
        plan = reference_plan(item.checks, self.seeds(item))
        run = run_harness(self.sandbox, item, source, self.data(item), plan)
        if not run.observations.done:
            raise BankError(
                [
                    BankIssue(
                        str(self.solutions / item.id / "reference.py"),
                        1,
                        1,
                        "",
                        "the reference solution did not finish under the "
                        "harness; run `grader check` on it",
                    )
                ]
            )
        self.cache.mkdir(parents=True, exist_ok=True)
        write_whole(cached, json.dumps(run.observations.by_probe).encode())
        return run.observations

    def _plan_key(self, item: CodeItem) -> str:
        """`reference_plan(...).content_key()` for the item, remembered for the last
        `_PLANS_KEPT` item objects (a server grading many variants keeps a bounded few)."""
        with self._plans_lock:
            held = self._plans.get(id(item))
            if held is not None and held[0] is item:
                self._plans.move_to_end(id(item))
                return held[1]
        key = reference_plan(item.checks, self.seeds(item)).content_key()
        with self._plans_lock:
            self._plans[id(item)] = (item, key)
            while len(self._plans) > _PLANS_KEPT:
                self._plans.popitem(last=False)
        return key


def _read_cached(path: Path) -> Observations | None:
    """A cached run's observations; None when there is none or it cannot be read (run again)."""
    by_probe = read_json(path)
    return Observations(by_probe, done=True) if isinstance(by_probe, dict) else None


def _variant_key(item: CodeItem) -> list[str]:
    """The variant's values, as part of a cache key (none for an item that never varies, whose
    key stays what it was before items could vary)."""
    variant = item.variant
    if variant is None:
        return []
    return [json.dumps(variant.values, sort_keys=True, default=str)]
