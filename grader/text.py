"""Text that is safe to print on a terminal, whoever wrote it."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with each character a terminal would act on (escape sequences, carriage returns,
    other controls) shown as `?`; line breaks are kept, one line per line of `text`."""
    lines = text.split("\n")
    if all(line.isprintable() for line in lines):
        return text  # the common case, without a Python step per character
    return "\n".join("".join(c if c.isprintable() else "?" for c in line) for line in lines)
