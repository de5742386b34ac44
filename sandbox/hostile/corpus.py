"""The hostile-submission corpus: attacks real graders fell to, each with the outcome it must get.

One corpus for every backend (SECURITY.md): the contract tests run each attack and assert it was
contained; a report command can run the same list and count attacks tried, attacks contained and
host damage. Each attack is a Python program (run as `python -c SOURCE MARKER`) plus what its run
must show. Programs print `LEAK <what>` when they get something they must not, and the lines in
`Containment.says` to prove they ran their checks at all. Host-side probes
(`sandbox.hostile.probes`) plant what the program hunts for and check the host afterwards. Disk
caps are proven by what the program could write, not by the host's free space, which other work
moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.base import Limits, MiB

#: Helpers every program gets: `leak`, `say`, `limits` (the run's Limits as a dict), `channel()`.
PRELUDE = """
import json, os, sys, time
def leak(what): print("LEAK", what, flush=True)
def say(what): print(what, flush=True)
limits = json.loads(os.environ.get("HOSTILE_LIMITS", "{}"))
def channel():
    where = os.environ["SANDBOX_CHANNEL"]
    if where.startswith("fd:"):
        return os.fdopen(int(where[3:]), "wb", buffering=0)
    return open(where, "ab", buffering=0)
"""


@dataclass(frozen=True)
class Containment:
    """What a contained run looks like; None means "either way"."""

    exit_code: int | None = None
    timed_out: bool | None = None
    memory_exceeded: bool | None = None
    output_exceeded: bool | None = None
    channel_exceeded: bool | None = None
    within_s: float | None = None
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attack:
    """One hostile program. `sources` run in order in fresh sandboxes (e.g. plant, then look)."""

    name: str
    threat: str
    sources: tuple[str, ...]
    expect: Containment
    limits: Limits = field(default_factory=lambda: Limits(wall_s=10, cpu_s=10))
    probes: tuple[str, ...] = ()

    def program(self, index: int = 0) -> str:
        return PRELUDE + self.sources[index]


CPU_BURN = "while True:\n    pass\n"
SLEEP = "time.sleep(10**6)\n"

DAEMON = """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # the grandchild: no parent, own session, holds no pipe
        for fd in range(3):
            os.close(fd)
        code = "import time\\nwhile True: time.sleep(0.05)"
        os.execv(sys.executable, [sys.executable, "-c", code, sys.argv[1] + "-daemon"])
    os._exit(0)
os.wait()
time.sleep(0.5)
say("SPAWNED")
"""

MEMORY_BOMB = """
blocks = []
while True:
    blocks.append(b"x" * (16 << 20))
"""

FORK_BOMB = """
count = 0
for _ in range(2000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    count += 1
say(f"FORKS {count}")
if count >= limits["processes"]:
    leak(f"{count} processes, the limit is {limits['processes']}")
"""

STDOUT_FLOOD = "while True:\n    sys.stdout.buffer.write(b'x' * 65536)\n"
STDERR_FLOOD = "while True:\n    sys.stderr.buffer.write(b'x' * 65536)\n"
CHANNEL_FLOOD = """
out = channel()
for _ in range(64):
    out.write(b"y" * 65536)
say("WROTE")
"""

DISK_FILL = """
def fill(path, budget):
    written = 0
    try:
        with open(path, "wb") as handle:
            while written < budget:
                handle.write(b"z" * (1 << 20))
                handle.flush()
                written += 1 << 20
    except OSError:
        pass
    try:
        written = os.path.getsize(path)
    except OSError:
        pass
    return written

one = fill("big.bin", 256 << 20)
say(f"FILE {one}")
if one > limits["file_bytes"]:
    leak(f"one file grew to {one} bytes, the limit is {limits['file_bytes']}")
for where in (os.getcwd(), "/tmp"):
    total = sum(fill(os.path.join(where, f"fill-{i}.bin"), 4 << 20) for i in range(64))
    say(f"FILLED {where} {total}")
    if total > limits["workdir_bytes"] + (1 << 20):
        leak(f"wrote {total} bytes in {where}, the limit is {limits['workdir_bytes']}")
"""

NETWORK = """
import socket
def attempt(label, address):
    try:
        socket.create_connection(address, timeout=2).close()
        leak(f"{label} {address} connected")
    except OSError as exc:
        say(f"BLOCKED {label} ({exc.__class__.__name__})")
attempt("tcp-host", ("127.0.0.1", int(os.environ["HOSTILE_PORT"])))
attempt("tcp-internet", ("1.1.1.1", 53))
attempt("tcp-internet-2", ("8.8.8.8", 443))
try:
    socket.getaddrinfo("pypi.org", 443)
    leak("dns resolved pypi.org")
except OSError:
    say("BLOCKED dns")
"""

READ_SECRETS = """
say("ENV " + json.dumps(dict(os.environ)))
for name in os.environ:
    if name.startswith("GRADER_"):
        leak(f"env {name}")
for path in json.loads(os.environ["HOSTILE_PATHS"]):
    try:
        if os.path.isdir(path):
            leak(f"{path}: {sorted(os.listdir(path))[:5]}")
        else:
            with open(path, "rb") as handle:
                leak(f"{path}: {handle.read(200)!r}")
    except OSError:
        pass
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    for part in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{part}", "rb") as handle:
                say(f"PROC {pid} {part} {handle.read(4000)!r}")
        except OSError:
            pass
say("CHECKED")
"""

PROCESS_VIEW = """
pids = [p for p in os.listdir("/proc") if p.isdigit()]
say(f"SEES {len(pids)}")
if len(pids) > 16:
    leak(f"sees {len(pids)} processes: the host's process table")
"""

LEFTOVER_PLANT = """
import ctypes
for where in (os.getcwd(), "/tmp", "/dev/shm"):
    try:
        with open(os.path.join(where, "leftover-from-run-1"), "w") as handle:
            handle.write("run 1 was here")
    except OSError:
        pass
ctypes.CDLL(None).shmget(0x5EED1, 4096, 0o1000 | 0o666)  # IPC_CREAT: System V shared memory
say("PLANTED")
"""

LEFTOVER_LOOK = """
for where in (os.getcwd(), "/tmp", "/dev/shm"):
    try:
        names = os.listdir(where)
    except OSError:
        continue
    if "leftover-from-run-1" in names:
        leak(f"{where} holds a file from the previous run")
import ctypes
if ctypes.CDLL(None).shmget(0x5EED1, 0, 0) != -1:
    leak("a System V shared memory segment of the previous run")
say("CHECKED")
"""

#: The second run of `leftover-process`: the first one's daemon (see `DAEMON`) must be gone.
DAEMON_LOOK = """
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        seen = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    if (sys.argv[1] + "-daemon").encode() in seen:
        leak(f"process {pid} of the previous run is still running")
say("CHECKED")
"""

SYMLINKS = """
victim = os.environ["HOSTILE_VICTIM"]
where = os.environ["SANDBOX_CHANNEL"]
if not where.startswith("fd:"):
    try:
        os.remove(where)
    except OSError:
        pass
    os.symlink(victim, where)
for name in ("solution.py", "result.json", "observations.json", "passwd"):
    try:
        os.remove(name)
    except OSError:
        pass
    os.symlink(victim if name != "passwd" else "/etc/passwd", name)
for name in ("solution.py", "result.json"):
    try:
        with open(name, "w") as handle:
            handle.write("overwritten by the student")
        leak(f"wrote through a symlink to {victim}")
    except OSError:
        pass
say("PLANTED")
"""

PRIVILEGE = """
import ctypes
uid, euid = os.getuid(), os.geteuid()
say(f"UID {uid} {euid}")
if uid == 0 or euid == 0:
    leak("runs as root")
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
if int(status["CapEff"].strip(), 16):
    leak(f"effective capabilities {status['CapEff'].strip()}")
if status.get("NoNewPrivs", "0").strip() != "1":
    leak("no_new_privs is off")
try:
    os.setuid(0)
    leak("setuid(0) worked")
except OSError:
    pass
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0:
    leak("mounted a tmpfs")
say("CHECKED")
"""

USER_NAMESPACE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x10000000) == 0:  # CLONE_NEWUSER: "root" again, inside a namespace of its own
    leak("created a user namespace")
say("CHECKED")
"""

GPU_DEVICES = """
found = [name for name in os.listdir("/dev") if name.startswith("nvidia")]
if found:
    leak(f"GPU devices without a GPU request: {found}")
say("CHECKED")
"""

_QUICK = Limits(wall_s=10, cpu_s=10, memory_bytes=512 * MiB)


#: A flood must be cut by its cap well before its 30 s wall limit; half of it leaves room for a
#: loaded 2-core host (a warm pool refilling beside the run) and still tells cap from wall.
FLOOD_CUT_S = 15.0

CORPUS: tuple[Attack, ...] = (
    Attack(
        "cpu-burn",
        "CPU burn",
        (CPU_BURN,),
        Containment(timed_out=True, within_s=6),
        Limits(wall_s=20, cpu_s=1.5),
    ),
    Attack(
        "sleep-forever",
        "wall",
        (SLEEP,),
        Containment(timed_out=True, within_s=6),
        Limits(wall_s=1.5),
    ),
    Attack(
        "orphan-after-exit",
        "zombies and orphans",
        (DAEMON,),
        Containment(exit_code=0, says=("SPAWNED",)),
        _QUICK,
        probes=("watch",),
    ),
    Attack(
        "orphan-after-timeout",
        "zombies and orphans",
        (DAEMON + SLEEP,),
        Containment(timed_out=True, says=("SPAWNED",), within_s=8),
        Limits(wall_s=2.5),
        probes=("watch",),
    ),
    Attack(
        "memory-bomb",
        "memory bomb",
        (MEMORY_BOMB,),
        Containment(memory_exceeded=True, within_s=30),
        Limits(wall_s=40, cpu_s=40, memory_bytes=256 * MiB),
    ),
    Attack(
        "fork-bomb",
        "fork bomb",
        (FORK_BOMB,),
        Containment(exit_code=0, says=("FORKS",)),
        Limits(wall_s=20, processes=32, memory_bytes=512 * MiB),
    ),
    Attack(
        "stdout-flood",
        "output flood",
        (STDOUT_FLOOD,),
        Containment(output_exceeded=True, within_s=FLOOD_CUT_S),
        Limits(wall_s=30, output_bytes=64 * 1024),
    ),
    Attack(
        "stderr-flood",
        "output flood",
        (STDERR_FLOOD,),
        Containment(output_exceeded=True, within_s=FLOOD_CUT_S),
        Limits(wall_s=30, output_bytes=64 * 1024),
    ),
    Attack(
        "channel-flood",
        "forging the result",
        (CHANNEL_FLOOD,),
        Containment(channel_exceeded=True, within_s=FLOOD_CUT_S),
        Limits(wall_s=30, channel_bytes=64 * 1024),
    ),
    Attack(
        "disk-fill",
        "disk fill",
        (DISK_FILL,),
        Containment(exit_code=0, says=("FILE", "FILLED")),
        Limits(wall_s=30, file_bytes=4 * MiB, workdir_bytes=16 * MiB, memory_bytes=512 * MiB),
    ),
    Attack(
        "network",
        "network",
        (NETWORK,),
        Containment(exit_code=0, says=("BLOCKED tcp-host", "BLOCKED tcp-internet", "BLOCKED dns")),
        _QUICK,
        probes=("listener",),
    ),
    Attack(
        "read-secrets",
        "reading the key",
        (READ_SECRETS,),
        Containment(exit_code=0, says=("CHECKED",)),
        Limits(wall_s=10, output_bytes=1 * MiB),
        probes=("secrets",),
    ),
    Attack(
        "process-view", "reading the key", (PROCESS_VIEW,), Containment(exit_code=0, says=("SEES",))
    ),
    Attack(
        "leftovers",
        "reading other students' work",
        (LEFTOVER_PLANT, LEFTOVER_LOOK),
        Containment(exit_code=0),
        _QUICK,
    ),
    Attack(
        "leftover-process",
        "reading other students' work",
        (DAEMON, DAEMON_LOOK),
        Containment(exit_code=0),
        _QUICK,
        probes=("watch",),
    ),
    Attack(
        "symlink-plant",
        "symlink / TOCTOU",
        (SYMLINKS,),
        Containment(exit_code=0, says=("PLANTED",)),
        _QUICK,
        probes=("victim",),
    ),
    Attack("privilege", "privilege", (PRIVILEGE,), Containment(exit_code=0, says=("CHECKED",))),
    Attack(
        "user-namespace",
        "privilege",
        (USER_NAMESPACE,),
        Containment(exit_code=0, says=("CHECKED",)),
    ),
    Attack("gpu-devices", "GPU reach", (GPU_DEVICES,), Containment(exit_code=0, says=("CHECKED",))),
)

BY_NAME = {attack.name: attack for attack in CORPUS}
