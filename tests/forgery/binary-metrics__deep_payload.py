# A data frame whose header is nested 200 000 deep on every descriptor, a line just as deep on
# stdout, and a return value nested 50 000 deep.
import os
import struct

body = b'{"probe": "load", "value": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
data = struct.pack("<4sIQ", b"GRW1", len(body), 0) + body
for fd in range(3, 64):
    try:
        os.write(fd, data)
    except OSError:
        pass
print("{" * 200_000)


def binary_metrics(y_true, y_pred):
    deep = 1.0
    for _ in range(50_000):
        deep = {"accuracy": deep}
    return deep
