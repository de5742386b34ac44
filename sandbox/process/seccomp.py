"""A small seccomp filter for the process sandbox, built on the host, installed by the launcher.

The jail already leaves the program no capabilities, so `mount` or `setns` fail anyway; the
filter's job is the kernel surface an unprivileged process still reaches. Like Docker's default
profile it refuses new user namespaces (inside one a process is "root" again and may mount),
`clone3` (its flags cannot be inspected: ENOSYS makes libc fall back to `clone`), io_uring,
eBPF, userfaultfd, perf events, keyrings and module loading. Everything else is allowed:
torch, DataLoader workers and subprocesses work unchanged. Unknown architectures get no filter.
"""

from __future__ import annotations

import errno
import platform
import struct

CLONE_NEWUSER = 0x10000000

_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_KILL_PROCESS = 0x80000000
_X32_BIT = 0x40000000

# audit arch, clone, unshare, clone3, then the refused calls (EPERM), per architecture.
_ARCHES: dict[str, tuple[int, int, int, int, tuple[int, ...]]] = {
    "x86_64": (
        0xC000003E,
        56,
        272,
        435,
        # setns keyctl add_key request_key bpf userfaultfd perf_event_open kexec_load
        # kexec_file_load init_module finit_module delete_module open_by_handle_at
        # io_uring_setup io_uring_enter io_uring_register
        (308, 250, 248, 249, 321, 323, 298, 246, 320, 175, 313, 176, 304, 425, 426, 427),
    ),
    "aarch64": (
        0xC00000B7,
        220,
        97,
        435,
        (268, 219, 217, 218, 280, 282, 241, 104, 294, 105, 273, 106, 265, 425, 426, 427),
    ),
}


Op = tuple[int, int, str | int, str | int]  # code, k, jump-if-true, jump-if-false


def _assemble(ops: list[Op], labels: dict[str, int]) -> bytes:
    """Pack ops, turning label targets into the relative jumps BPF wants."""
    packed = []
    for pc, (code, k, jt, jf) in enumerate(ops):
        offsets = [labels[t] - pc - 1 if isinstance(t, str) else t for t in (jt, jf)]
        packed.append(struct.pack("=HBBI", code, offsets[0], offsets[1], k))
    return b"".join(packed)


def program(machine: str | None = None) -> bytes | None:
    """The filter as packed `struct sock_filter`s, or None on an architecture without a table."""
    table = _ARCHES.get(machine or platform.machine())
    if table is None:
        return None
    arch, clone, unshare, clone3, refused = table
    ops: list[Op] = [
        (_LD_ABS, 4, 0, 0),  # the audit architecture
        (_JEQ, arch, 0, "kill"),
        (_LD_ABS, 0, 0, 0),  # the syscall number
        (_JGE, _X32_BIT, "eperm", 0),
        (_JEQ, clone3, "enosys", 0),
        (_JEQ, clone, "flags", 0),
        (_JEQ, unshare, "flags", 0),
        *[(_JEQ, nr, "eperm", 0) for nr in refused],
        (_RET, _ALLOW, 0, 0),
    ]
    labels = {"flags": len(ops)}
    ops += [(_LD_ABS, 16, 0, 0), (_JSET, CLONE_NEWUSER, "eperm", 0), (_RET, _ALLOW, 0, 0)]
    labels |= {"eperm": len(ops), "enosys": len(ops) + 1, "kill": len(ops) + 2}
    ops += [
        (_RET, _ERRNO | errno.EPERM, 0, 0),
        (_RET, _ERRNO | errno.ENOSYS, 0, 0),
        (_RET, _KILL_PROCESS, 0, 0),  # a foreign architecture's calls
    ]
    return _assemble(ops, labels)
