"""The one safe YAML loader: libyaml's safe loader with guards against alias bombs and deep
nesting, its errors turned into messages that name the line."""

from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import ArticleError

# Article files never need YAML anchors; a few are tolerated, many are an alias bomb.
MAX_ALIAS_USES = 20


class SafeLoader(yaml.CSafeLoader):  # type: ignore[misc, name-defined]
    """libyaml's safe loader (fast; no language tags) that refuses alias bombs.

    An alias is constructed once and shared, so expansion costs nothing here, but a
    document made of thousands of aliases still explodes in whatever walks it later.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_uses = 0

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            self._alias_uses += 1
            if self._alias_uses > MAX_ALIAS_USES:
                raise ArticleError(
                    f"more than {MAX_ALIAS_USES} YAML aliases (*name): refused, as files "
                    "like this are used to exhaust memory; write the values out in full",
                    line=node.start_mark.line + 2,
                )
        return super().construct_object(node, deep)



def _yaml_error(error: yaml.YAMLError) -> ArticleError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 2 if mark is not None else None  # YAML starts on file line 2
    problem = getattr(error, "problem", None) or str(error)
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 2 != line:
        problem += f" ({context} started on line {context_mark.line + 2})"
    tag = re.search(r"tag '([^']*)'", problem)
    if isinstance(error, yaml.constructor.ConstructorError) and tag:
        short = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return ArticleError(
            f"YAML tag {short} is not allowed: article files hold plain YAML "
            "(strings, numbers, dates, lists, mappings)",
            line=line,
        )
    return ArticleError(f"YAML syntax error: {problem}", line=line)


MAX_FLOW_DEPTH = 200


def check_nesting(text: str) -> None:
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
                    line=text.count("\n", 0, index) + 2)
        elif char in "]}":
            depth = max(0, depth - 1)


def parse_yaml(front_matter: str) -> Any:
    check_nesting(front_matter)
    loader = SafeLoader(front_matter)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    except ArticleError:
        raise
    except (ValueError, OverflowError) as error:
        # PyYAML builds timestamps with datetime(), which refuses 2021-02-30 with a bare
        # ValueError: an invalid file, not a crash of the whole build.
        raise ArticleError(f"YAML value cannot be read: {error} (a date that does not "
                           "exist?)") from None
    finally:
        loader.dispose()

