"""An oversized body sent whole before reading (no `Expect: 100-continue`), declared or chunked,
gets the 413 on a real server's socket, not a reset connection."""

from __future__ import annotations

import socket

from grader.ops.loopback import ServerProcess

BODY = 5 * 1024 * 1024  # over the default 1 MiB cap, under the drain cap
PART = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.py"\r\n\r\n'


def send_whole(server: ServerProcess, chunked: bool) -> bytes:
    host, port = "127.0.0.1", server.port
    head = [
        "POST /v1/submissions HTTP/1.1",
        f"Host: {host}:{port}",
        "Authorization: Bearer gt_nobody",
        "Content-Type: multipart/form-data; boundary=b",
    ]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(PART) + BODY}")
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.sendall(b"%x\r\n%s\r\n" % (len(PART), PART) if chunked else PART)
        block = b"x" * 65536
        for _ in range(BODY // len(block)):
            sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    return answer


def test_a_declared_oversized_body_sent_whole_reads_the_413(live_server: ServerProcess) -> None:
    assert send_whole(live_server, chunked=False).startswith(b"HTTP/1.1 413")


def test_a_chunked_oversized_body_sent_whole_reads_the_413(live_server: ServerProcess) -> None:
    assert send_whole(live_server, chunked=True).startswith(b"HTTP/1.1 413")
