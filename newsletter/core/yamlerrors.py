"""What a YAML syntax error says: its line, and what a newcomer most likely did to get it
(a tab, a quote left open lines above, a value holding ": ", a JSON surrogate pair), with what
to write instead."""

from __future__ import annotations

import re

import yaml

from .errors import ArticleError
from .text import double_quoted

_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.I)
_BAD_ESCAPE = "found invalid Unicode character escape code"


def _escape_fix(text: str, line: int, column: int) -> str:
    """What to write instead of the ``\\u`` escape libyaml refused at ``line``, ``column``:
    half of a UTF-16 surrogate pair (JSON writes an emoji as two, ``"\\ud83d\\ude00"``), which
    YAML does not join, or a code beyond U+10FFFF."""
    lines = text.split("\n")
    source = lines[line] if 0 <= line < len(lines) else ""
    start = source.rfind("\\", 0, column + 1)
    pair = _SURROGATE_PAIR.match(source, start) if start >= 0 else None
    if pair is None:
        return ("; a \\uD800 to \\uDFFF escape (half of a UTF-16 surrogate pair) or one beyond "
                "\\U0010FFFF names no character: write the character itself, or \\U and its "
                "eight hexadecimal digits")
    code = 0x10000 + (int(pair[1], 16) - 0xD800) * 0x400 + int(pair[2], 16) - 0xDC00
    return (f"; {pair[0]} is a UTF-16 surrogate pair, as JSON writes {chr(code)}, and YAML "
            f"does not join the two halves: write {chr(code)} itself, or \\U{code:08X}")


# A value that opens a double quote and does not close it on its line (``title: "AI``).
_OPEN_QUOTE = re.compile(r'^\s*(?:-\s+)?(?:[^\s"#\'][^:#]*:\s+)?"(?:[^"\\]|\\.)*$')


def _layout_hint(text: str, line: int, first_line: int) -> str:
    """What a newcomer most often did to get a YAML syntax error at ``line`` (0-based in
    ``text``): indented with a tab, or left a quote open on an earlier line, which YAML
    reads on into the next lines, so that it reports a line below the mistake."""
    lines = text.split("\n")
    if 0 <= line < len(lines) and "\t" in lines[line][:len(lines[line]) - len(
            lines[line].lstrip())]:
        return f"; line {line + first_line} is indented with a tab: YAML indents with spaces"
    # From the line above the error: a quote the error's own line opens is not what YAML
    # read on from (``b: "x`` after ``a: "y``: the quote of b closes a's string there).
    for number in range(min(line - 1, len(lines) - 1), -1, -1):
        if _OPEN_QUOTE.match(lines[number]):
            # Still open where the error is (a quoted value may span lines, closed later)?
            between = "\n".join(lines[number:line]).replace('\\"', "")
            if between.count('"') % 2:
                return (f'; line {number + first_line} opens a " that it does not close: '
                        "is its closing quote missing?")
            break
    return ""


# A key and a plain value (not quoted, not a list or mapping): ``title: Frost: a guide``.
_PLAIN_VALUE = re.compile(r"""^\s*(?:-\s+)?([^\s"'#{}\[\]&*!|>%@`-][^:#]*?):\s+([^\s"'{\[].*)$""")
_MAPPING_VALUES = "mapping values are not allowed"


def _colon_hint(text: str, line: int, column: int) -> str:
    """What to write instead of a value holding ": " (``title: Frost: a guide``), which YAML
    reads as a second key on the line: the value in quotes."""
    lines = text.split("\n")
    found = _PLAIN_VALUE.match(lines[line]) if 0 <= line < len(lines) else None
    if found is None or column <= found.end(1):  # the line's own key: another mistake
        return ""
    key, value = found.groups()
    value = value.split(" #", 1)[0].rstrip()
    quoted = double_quoted(value)
    return (f'; the value of {key} holds ": ", which YAML reads as another key: put the '
            f"value in quotes, {key}: {quoted}")


def yaml_error(error: yaml.YAMLError, first_line: int, holder: str, text: str = ""
                ) -> ArticleError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + first_line if mark is not None else None
    problem = getattr(error, "problem", None) or str(error)
    if problem == _BAD_ESCAPE and mark is not None:
        problem += _escape_fix(text, mark.line, mark.column)
    if problem.startswith(_MAPPING_VALUES) and mark is not None:
        problem += _colon_hint(text, mark.line, mark.column)
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark is not None and context_mark.line + first_line != line:
        problem += f" ({context} started on line {context_mark.line + first_line})"
    if (mark is not None and not isinstance(error, yaml.constructor.ConstructorError)
            and "tab" not in problem):
        problem += _layout_hint(text, mark.line, first_line)
    tag = re.search(r"tag '([^']*)'", problem)
    if isinstance(error, yaml.constructor.ConstructorError) and tag:
        short = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return ArticleError(
            f"YAML tag {short} is not allowed: {holder} hold plain YAML "
            "(strings, numbers, dates, lists, mappings)",
            line=line,
        )
    return ArticleError(f"YAML syntax error: {problem}", line=line)
