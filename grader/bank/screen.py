"""What the bank refuses in a YAML file before anything is built from it.

Every command loads the whole bank, so one hostile file must not stall `check` or `serve`. Four
shapes of YAML cost far more to build than to read, and none belongs in an item file:

- anchors and aliases: nested aliases ("billion laughs") expand a few hundred bytes into
  gigabytes once the document is turned into plain values;
- deep nesting: ruamel's composer and constructor recurse per level, and a RecursionError is a
  crash, not a problem in a file;
- huge integers: Python refuses to read an int of more than `sys.get_int_max_str_digits()`
  digits (ValueError from deep inside the constructor);
- explicit tags (`!!int "999..."`, `!!timestamp`): a tag builds a value of another type than the
  text reads as, past every check above, and the bank never needs one.

The screen reads only ruamel's token stream, lazily, and stops at the first nesting level past
`MAX_DEPTH`, so its cost is bounded by the file's size (the scanner looks at most 1024 characters
ahead), whatever the file holds. Anything it cannot tokenise is left to the parser, which reports
it as invalid YAML.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.tokens import (
    AliasToken,
    AnchorToken,
    BlockEndToken,
    BlockMappingStartToken,
    BlockSequenceStartToken,
    FlowMappingEndToken,
    FlowMappingStartToken,
    FlowSequenceEndToken,
    FlowSequenceStartToken,
    ScalarToken,
    TagToken,
    Token,
)

from grader.errors import BankIssue

#: Deeper than any item needs (a check's expected 4-D tensor sits about 10 levels down).
MAX_DEPTH = 64
OPENS = (
    BlockMappingStartToken,
    BlockSequenceStartToken,
    FlowMappingStartToken,
    FlowSequenceStartToken,
)
CLOSES = (BlockEndToken, FlowMappingEndToken, FlowSequenceEndToken)
#: A plain scalar YAML 1.2 reads as an integer (ruamel's resolver, without the sign's position).
INTEGER = re.compile(r"[-+]?(?:[0-9_]+|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)")


def screen_issues(name: str, text: str) -> list[BankIssue]:
    """Anchors and aliases (one issue, at the first, counting them), nesting past MAX_DEPTH and
    integers too long to read, as `file:line:column` issues; [] when the file may be parsed."""
    issues: list[BankIssue] = []
    references: list[AnchorToken | AliasToken] = []
    depth = 0
    for token in _tokens(text):
        if isinstance(token, OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                issues.append(_at(name, token, _too_deep()))
                break
        elif isinstance(token, CLOSES):
            depth -= 1
        elif isinstance(token, AnchorToken | AliasToken):
            references.append(token)
        elif isinstance(token, TagToken):
            issues.append(_at(name, token, _tag_message(token)))
        elif isinstance(token, ScalarToken) and token.plain and _too_long(token.value):
            issues.append(_at(name, token, _too_long_message(token.value)))
    if references:
        issues.insert(0, _at(name, references[0], _reference_message(references)))
    return issues


def _tokens(text: str) -> Iterator[Token]:
    """ruamel's tokens, up to the first one it cannot read (the parser reports that one)."""
    try:
        yield from YAML(typ="rt").scan(text)
    except YAMLError:
        return


def _reference_message(found: list[AnchorToken | AliasToken]) -> str:
    first = found[0]
    what = "anchor" if isinstance(first, AnchorToken) else "alias"
    more = f" and {len(found) - 1} more in this file" if len(found) > 1 else ""
    return (
        f"YAML anchors and aliases are not allowed in the bank (the {what} {first.value!r}{more}); "
        "write each value out where it is used"
    )


def _tag_message(token: TagToken) -> str:
    handle, suffix = token.value if isinstance(token.value, tuple) else ("", token.value)
    return (
        f"YAML tags ({handle or ''}{suffix or ''}) are not allowed in the bank: a tag makes a "
        "value of another type than it reads as; write the value plainly"
    )


def _too_long_message(value: str) -> str:
    return (
        f"an integer of {len(value)} characters is more than the bank reads "
        f"(at most {sys.get_int_max_str_digits()} digits); write a smaller number"
    )


def _too_long(value: str) -> bool:
    return len(value) > sys.get_int_max_str_digits() and INTEGER.fullmatch(value) is not None


def _too_deep() -> str:
    return (
        f"nested more than {MAX_DEPTH} levels deep; an item never needs that many: "
        "flatten the value"
    )


def _at(name: str, token: Token, message: str) -> BankIssue:
    mark = token.start_mark
    return BankIssue(name, mark.line + 1, mark.column + 1, "", message)
