"""The one safe YAML loader, for article front matter, the configuration and overrides.

libyaml's safe loader (fast; no language tags) with guards for what it lets through: alias
bombs, flow collections nested deep enough to overflow libyaml's C stack, documents too
large to be what they claim, and integers spelt so long that building them (hexadecimal,
octal, binary, sexagesimal ``1:2:3:...``) or printing them costs minutes. Every refusal and
every syntax error is an :class:`ArticleError` naming the line of the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import yaml

from .errors import ArticleError, ConfigError
from .text import double_quoted, impossible_date_text
from .yamlerrors import yaml_error

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
            try:
                # Without an "&" in the text there is no anchor, so no node can come twice.
                return self.plain_data(node, set() if self.may_alias else None)
            except _NotPlain:
                return self.construct_document(node)
        except ValueError as error:  # an ArticleError, or datetime() refusing 2021-02-30
            if isinstance(error, ArticleError):
                raise
            raise impossible_date_at(node, self.first_line) or error from None

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


def impossible_date_at(root: yaml.Node, first_line: int) -> ArticleError | None:
    """The error of the first date in the document under ``root`` that does not exist
    (``2026-02-30``, ``T25:00``), which PyYAML's constructor refuses with a bare ValueError:
    with its line, key and value, and why (``related[0].publishedDateTime: 2026-02-30 is not
    a date: February 2026 has 28 days``). None when no date is to blame. Looked for only
    once the document failed, so that reading costs nothing more."""
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    done: set[int] = set()  # a node an alias shares (or that holds itself) is walked once
    while stack:
        node, path = stack.pop()
        if id(node) in done:
            continue
        done.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            problem = impossible_date_text(node.value) if node.tag == _TIMESTAMP_TAG else None
            if problem is not None:
                return ArticleError(f"{path}: {problem}" if path else problem,
                                    line=node.start_mark.line + first_line)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{index}]")
                         for index, item in reversed(list(enumerate(node.value))))
        else:
            for key, value in reversed(node.value):
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                named = f"{path}.{name}" if path else name
                stack += [(value, named), (key, path)]
    return None


class _NotPlain(Exception):
    """A document :meth:`SafeLoader.plain_data` leaves to PyYAML's constructor."""


_SCALAR = yaml.ScalarNode
_STR_TAG, _MAP_TAG, _SEQ_TAG = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "map", "seq"))
_PLAIN_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in (
    "null", "bool", "int", "float", "timestamp", "binary"))
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_SPECIAL_KEY_TAGS = frozenset(("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"))


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
        raise yaml_error(error, first_line, holder, text) from None
    except ArticleError:
        raise
    except (ValueError, OverflowError) as error:
        # What datetime() refuses besides a date that does not exist (named with its key
        # by get_single_data): an offset of a day or more, say. An invalid file, not a
        # crash of the whole build.
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


def flow_item(text: str) -> str:
    """``text`` written as an item of a YAML flow list (``exclude: [ITEM]``) that reads back
    as that very string: as it is when it does (ids, URLs), else in double quotes (a date
    ``"2026-12-06"``, a number, ``"a, b"``, ``"c #1"``, ``"Breaking: big"``, ``"no"``). The
    loader itself judges, so that what a hint tells the editor to write is what it reads."""
    for written in (text, double_quoted(text)):
        try:
            if parse_yaml(f"[{written}]", first_line=1) == [text]:
                return written
        except ArticleError:
            pass
    return double_quoted(text).encode("ascii", "backslashreplace").decode("ascii")


class Written(NamedTuple):
    """A value as written in a YAML file: for a message that quotes it as the editor wrote
    it (YAML read ``2026-12-06`` as a date, ``no`` as false, ``1.50`` as 1.5)."""
    line: int  # 1-based
    source: str  # the characters of the value in the file
    flow: bool  # an item of a flow list (``[a, b]``), not of a block one (``- a``)


def written_items(text: str, key: str) -> tuple[Written, ...] | None:
    """How the value of the top-level ``key`` of the YAML document ``text`` is written: each
    item of it when it is a list, else the value alone; None when the document has no such
    key. Only for messages: the document is composed once more, the loader's way."""
    loader = SafeLoader(text, 1)
    try:
        root = loader.get_single_node()
    except (yaml.YAMLError, ArticleError):
        return None
    finally:
        loader.dispose()
    if not isinstance(root, yaml.MappingNode):
        return None
    for key_node, value in root.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            listed = isinstance(value, yaml.SequenceNode)
            return tuple(Written(item.start_mark.line + 1,
                                 text[item.start_mark.index:item.end_mark.index].rstrip(),
                                 listed and bool(value.flow_style))
                         for item in (value.value if listed else [value]))
    return None
