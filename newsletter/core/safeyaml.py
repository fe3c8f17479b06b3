"""The one safe YAML loader, for article front matter, the configuration and overrides.

libyaml's safe loader (fast; no language tags) with guards for what it lets through: alias
bombs, flow collections nested deep enough to overflow libyaml's C stack, documents too
large to be what they claim, and integers spelt so long that building them (hexadecimal,
octal, binary, sexagesimal ``1:2:3:...``) or printing them costs minutes. Every refusal and
every syntax error is an :class:`ArticleError` naming the line of the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ArticleError, ConfigError

# These files never need YAML anchors; a few are tolerated, many are an alias bomb.
MAX_ALIAS_USES = 20
MAX_FLOW_DEPTH = 200
MAX_YAML_CHARS = 2 * 1024 * 1024  # the article file limit; a config is far smaller
# An integer scalar longer than this is refused before it is built: every number these files
# hold is small, and Python's int() guards only decimal spellings against huge ones.
MAX_INTEGER_CHARS = 100
_INT_TAG = "tag:yaml.org,2002:int"


class SafeLoader(yaml.CSafeLoader):
    """libyaml's safe loader that refuses alias bombs and huge integers.

    An alias is constructed once and shared, so expansion costs nothing here, but a
    document made of thousands of aliases still explodes in whatever walks it later.
    """

    def __init__(self, stream: str, first_line: int, *, unique_keys: bool = False) -> None:
        super().__init__(stream)
        self._alias_uses = 0
        self.first_line = first_line
        self.may_alias = "&" in stream
        self.unique_keys = unique_keys

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            self._alias_uses += 1
            if self._alias_uses > MAX_ALIAS_USES:
                raise ArticleError(
                    f"more than {MAX_ALIAS_USES} YAML aliases (*name): refused, as files "
                    "like this are used to exhaust memory; write the values out in full",
                    line=node.start_mark.line + self.first_line,
                )
        return super().construct_object(node, deep)

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        """The tag of a node, as PyYAML's resolver gives it, without its per-call list
        building: libyaml asks for every node of every file. (This loader has no path
        resolvers, so only the implicit ones of plain scalars count.)"""
        if kind is yaml.ScalarNode:
            if implicit[0]:
                known = _RESOLVED.get(value)  # type: ignore[arg-type]
                if known is not None:
                    return known
                found = _DEFAULT_SCALAR
                for tag, pattern in _IMPLICIT.get(value[:1], _WILDCARD):  # type: ignore[index]
                    if pattern.match(value):
                        found = tag
                        break
                if len(value) <= 32 and len(_RESOLVED) < 4096:  # type: ignore[arg-type]
                    _RESOLVED[value] = found  # type: ignore[index]  # keys, short values
                return found
            return _DEFAULT_SCALAR
        return _DEFAULT_SEQUENCE if kind is yaml.SequenceNode else _DEFAULT_MAPPING

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """Nothing to do without path resolvers."""

    def ascend_resolver(self) -> None:
        """Nothing to do without path resolvers."""

    def get_single_data(self) -> Any:
        """The document, built by :meth:`plain_data` when it can (nearly always), else by
        PyYAML's own constructor; both give the same objects (``tests/test_safeyaml.py``)."""
        node = self.get_single_node()
        if node is None:
            return None
        if self.unique_keys:
            self.check_unique_keys(node)
        try:
            # Without an "&" in the text there is no anchor, so no node can come twice.
            return self.plain_data(node, set() if self.may_alias else None)
        except _NotPlain:
            return self.construct_document(node)

    def check_unique_keys(self, root: yaml.Node) -> None:
        """Refuse a key given twice in one mapping: YAML keeps the last one silently, so a
        second ``email:`` section would drop every setting of the first."""
        stack: list[tuple[yaml.Node, str]] = [(root, "")]
        done: set[int] = set()  # an alias shares its node: walked once
        while stack:
            node, path = stack.pop()
            if id(node) in done or isinstance(node, yaml.ScalarNode):
                continue
            done.add(id(node))
            if isinstance(node, yaml.SequenceNode):
                stack.extend((item, f"{path}[{index}]") for index, item in enumerate(node.value))
                continue
            lines: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = f"{path}.{key_node.value}" if path else key_node.value
                line = key_node.start_mark.line + self.first_line
                first = lines.get((key_node.tag, key_node.value))
                lines[key_node.tag, key_node.value] = line
                if first is not None:
                    raise ArticleError(
                        f"{key}: given twice (first on line {first}); only the last would "
                        "count, the first lost without a word: merge them into one",
                        line=line)
                stack.append((value_node, key))

    def plain_data(self, node: yaml.Node, seen: set[int] | None) -> Any:
        """A document of plain mappings, lists and scalars, built in one pass: PyYAML's own
        constructor spends three times longer than libyaml's parser on front matter (its
        generic dispatch, and state kept for anchors per node). Anything else (an anchor
        used twice, a merge key, a set, an ordered map, a key that cannot be hashed, a tag
        on the wrong kind of node) raises :class:`_NotPlain`, to be built the general way,
        which also says what is wrong with it. ``seen``: the nodes met so far, when the
        document may hold aliases. (A method, not a closure: readings run with the cycle
        collector paused, and a recursive closure is a cycle per file.)"""
        if seen is not None:
            if id(node) in seen:
                raise _NotPlain  # an alias: counted and shared by construct_object
            seen.add(id(node))
        tag, kind = node.tag, type(node)
        if kind is yaml.ScalarNode:
            if tag == _STR_TAG:
                return node.value
            if tag == _INT_TAG and node.value.isascii() and node.value.isdigit() and (
                    node.value[0] != "0" or node.value == "0") and len(node.value) <= 18:
                return int(node.value)  # plain decimal: what construct_integer gives
            if tag in _PLAIN_SCALAR_TAGS:
                return self.yaml_constructors[tag](self, node)
        elif kind is yaml.MappingNode and tag == _MAP_TAG:
            mapping = {}
            for key_node, value_node in node.value:
                # Most keys and values are plain strings: taken without a call.
                if seen is None and key_node.tag == _STR_TAG and type(key_node) is _SCALAR:
                    key = key_node.value
                elif key_node.tag in _SPECIAL_KEY_TAGS:
                    raise _NotPlain
                else:
                    key = self.plain_data(key_node, seen)
                if seen is None and value_node.tag == _STR_TAG and type(value_node) is _SCALAR:
                    value = value_node.value
                else:
                    value = self.plain_data(value_node, seen)
                try:
                    mapping[key] = value
                except TypeError:  # an unhashable key
                    raise _NotPlain from None
            return mapping
        elif kind is yaml.SequenceNode and tag == _SEQ_TAG:
            return [self.plain_data(item, seen) for item in node.value]
        raise _NotPlain

    def construct_integer(self, node: yaml.ScalarNode) -> int:
        if len(node.value) > MAX_INTEGER_CHARS:
            raise ArticleError(
                f"a number {len(node.value)} characters long: refused; write it as text "
                "(in quotes) if it is not a number",
                line=node.start_mark.line + self.first_line)
        return int(self.construct_yaml_int(node))


SafeLoader.add_constructor(_INT_TAG, SafeLoader.construct_integer)


# The implicit resolvers of PyYAML's safe loader by first character, each list ending with
# those that apply to any character; this loader's resolve() relies on having no others.
assert not SafeLoader.yaml_path_resolvers
_WILDCARD = tuple(SafeLoader.yaml_implicit_resolvers.get(None, ()))
_IMPLICIT = {first: tuple(resolvers) + _WILDCARD
             for first, resolvers in SafeLoader.yaml_implicit_resolvers.items()
             if first is not None}
_RESOLVED: dict[str, str] = {}  # the tags of short plain scalars (keys, mostly), as found
_DEFAULT_SCALAR = SafeLoader.DEFAULT_SCALAR_TAG
_DEFAULT_SEQUENCE = SafeLoader.DEFAULT_SEQUENCE_TAG
_DEFAULT_MAPPING = SafeLoader.DEFAULT_MAPPING_TAG


class _NotPlain(Exception):
    """A document :meth:`SafeLoader.plain_data` leaves to PyYAML's constructor."""


_SCALAR = yaml.ScalarNode
_STR_TAG, _MAP_TAG, _SEQ_TAG = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "map", "seq"))
_PLAIN_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in (
    "null", "bool", "int", "float", "timestamp", "binary"))
_SPECIAL_KEY_TAGS = frozenset(("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"))


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
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return (f'; the value of {key} holds ": ", which YAML reads as another key: put the '
            f"value in quotes, {key}: {quoted}")


def _yaml_error(error: yaml.YAMLError, first_line: int, holder: str, text: str = ""
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


def check_nesting(text: str, first_line: int = 2) -> None:
    """Refuse deeply nested flow collections (``[[[[...``) before libyaml sees them: its
    parser recurses in C and overflows the stack, killing the process, long before Python's
    recursion limit could catch it. Block nesting needs indentation, which the size limit
    already bounds."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return
    depth = 0
    for index, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                raise ArticleError(
                    f"YAML nested more than {MAX_FLOW_DEPTH} levels deep: refused",
                    line=text.count("\n", 0, index) + first_line)
        elif char in "]}":
            depth = max(0, depth - 1)


def parse_yaml(text: str, *, first_line: int = 2, holder: str = "article files",
               unique_keys: bool = False) -> Any:
    """The one YAML document in ``text``; raises :class:`ArticleError` with the file line.

    ``first_line``: the file line ``text`` starts on (front matter starts on line 2).
    ``holder``: what the file is, for the message that refuses a language tag.
    ``unique_keys``: refuse a key given twice in a mapping instead of keeping the last.
    """
    if len(text) > MAX_YAML_CHARS:
        raise ArticleError(f"YAML of {len(text):,} characters, over the limit of "
                           f"{MAX_YAML_CHARS:,}: not read")
    check_nesting(text, first_line)
    loader = SafeLoader(text, first_line, unique_keys=unique_keys)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise _yaml_error(error, first_line, holder, text) from None
    except ArticleError:
        raise
    except (ValueError, OverflowError) as error:
        # PyYAML builds timestamps with datetime(), which refuses 2021-02-30 with a bare
        # ValueError: an invalid file, not a crash of the whole build.
        raise ArticleError(f"YAML value cannot be read: {error} (a date that does not "
                           "exist?)") from None
    finally:
        loader.dispose()


def load_yaml_file(path: Path, text: str, *, holder: str,
                   what: str = "the configuration") -> Any:
    """A whole YAML settings file (the configuration, an issue's overrides) through the one
    safe loader; a refusal or syntax error is a :class:`ConfigError` naming the line."""
    try:
        return parse_yaml(text, first_line=1, holder=holder, unique_keys=True)
    except ArticleError as error:
        where = f"line {error.line}: " if error.line is not None else ""
        raise ConfigError(str(path), [where + error.message], what=what) from None
