"""The one YAML loader builds plain documents in one pass (core/safeyaml.py): whatever the
text, it gives what PyYAML's own constructor gives with the same guards, or the same error."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from newsletter.core.errors import ArticleError
from newsletter.core.safeyaml import SafeLoader, parse_yaml


class Stock(SafeLoader):
    """The guards of the one loader with PyYAML's own resolver and constructor."""

    resolve = yaml.resolver.BaseResolver.resolve
    descend_resolver = yaml.resolver.BaseResolver.descend_resolver
    ascend_resolver = yaml.resolver.BaseResolver.ascend_resolver


def general(text: str) -> object:
    """The document as PyYAML's resolver and constructor build it, guards included."""
    loader = Stock(text, 2)
    try:
        node = loader.get_single_node()
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def outcome(read, text: str) -> tuple[str, object]:
    try:
        return "value", read(text)
    except (yaml.YAMLError, ArticleError, ValueError, OverflowError) as error:
        return "error", type(error).__name__


def built_both_ways(text: str) -> None:
    plain = outcome(lambda t: parse_yaml(t), text)
    reference = outcome(general, text)
    if reference[0] == "error":  # parse_yaml words errors its own way; refused all the same
        assert plain[0] == "error", text
    else:
        # repr: types count too (1 is not 1.0 or True), and a recursive list compares
        assert repr(plain) == repr(reference), text


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(max_size=30), st.dates(), st.datetimes(timezones=st.just(dt.UTC)),
    st.binary(max_size=10))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none()),
        inner, max_size=4),
    max_leaves=20)
# Hand-written spellings the dumper never produces: anchors, merge keys, tags, sets,
# ordered maps, unhashable keys, tags on the wrong kind of node, values YAML 1.1 reads
# its own way.
SPELLINGS = [
    "a: &x [1, 2]\nb: *x\n", "base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n", "a: !!str 12\n",
    "a: !!float 1\n", "a: !!set {x, y}\n", "a: !!omap [{x: 1}, {y: 2}]\n",
    "? [1, 2]\n: x\n", "a: !!str {b: 1}\n", "a: !!map [1]\n", "a: !!python/name:os.system\n",
    "a: yes\nb: NO\nc: ~\nd: 0x1F\ne: 0o17\nf: 1:30\ng: .inf\nh: 2021-02-18 10:00:00 +05:00\n",
    "=: value\n", "a: !!binary aGVsbG8=\n", "a: 2021-02-30\n", "a: !custom x\n", "- &a x\n- *a\n",
    "a: &r [*r]\n", "", "# nothing\n", "just text\n", "a: 1\na: 2\n", "{a: [b, {c: d}]}\n",
]


@example(text="base: &b {x: 1}\nc:\n  <<: *b\n")
@given(st.one_of(
    DOCUMENTS.map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
    DOCUMENTS.map(lambda data: yaml.safe_dump(data, default_flow_style=True)),
    st.sampled_from(SPELLINGS),
    st.lists(st.sampled_from(SPELLINGS), min_size=2, max_size=4).map("".join)))
def test_plain_documents_are_built_as_pyyaml_builds_them(text):
    built_both_ways(text)


@pytest.mark.parametrize("text", SPELLINGS)
def test_every_hand_written_spelling_is_built_as_pyyaml_builds_it(text):
    built_both_ways(text)


def test_an_alias_bomb_is_still_refused():
    text = "a: &a [x]\n" + "".join(f"k{n}: *a\n" for n in range(30))
    with pytest.raises(ArticleError, match="aliases"):
        parse_yaml(text)


def test_a_huge_integer_is_still_refused():
    with pytest.raises(ArticleError, match="characters long"):
        parse_yaml("quality: 0x" + "f" * 200 + "\n")


def test_front_matter_is_built_in_one_pass(monkeypatch):
    monkeypatch.setattr(SafeLoader, "construct_document",
                        lambda *a: pytest.fail("built the general way"))
    text = ('title: "Robots walk"\npublishedDateTime: 2021-02-17T12:00:00Z\nquality: 55\n'
            "topics: [AI, Robotics]\nrelated:\n  - title: x\n    quality: 1.5\n")
    assert parse_yaml(text)["related"] == [{"title": "x", "quality": 1.5}]


def test_reading_front_matter_leaves_no_garbage_cycles():
    """Readings pause the cycle collector (reading/corpus.py), so a cycle made per file is
    memory lost per file: a million of them at scale."""
    from newsletter.reading.article import parse_article

    text = ('---\ntitle: "Robots walk"\npublishedDateTime: 2021-02-17T12:00:00Z\n'
            "webUrl: https://a.example/1\nquality: 55\ntopics: [AI]\nrelated:\n"
            "  - title: x\n    webUrl: https://b.example/2\n---\nbody\n")
    gc.collect()
    gc.disable()
    try:
        for _ in range(10):
            parse_article(text, id="x", path="x.md")
            parse_yaml("a: &x [1]\nb: *x\n")  # the general way too
    finally:
        gc.enable()
    assert gc.collect() == 0


def test_an_escape_that_names_no_character_says_what_to_write():
    """JSON writes an emoji as two \\u escapes (a UTF-16 surrogate pair): valid JSON, and
    what `json.dumps` gives a generator of front matter, but libyaml refuses the file. The
    error names the character and the escape that works."""
    front = 'title: "Launch day \\ud83d\\ude80"\nexcerpt: "x"\n'
    with pytest.raises(ArticleError) as refused:
        parse_yaml(front)
    assert refused.value.line == 2
    assert "\\ud83d\\ude80 is a UTF-16 surrogate pair, as JSON writes 🚀" in str(refused.value)
    assert "write 🚀 itself, or \\U0001F680" in str(refused.value)
    assert parse_yaml('title: "Launch day \\U0001F680"\n') == {"title": "Launch day 🚀"}
    with pytest.raises(ArticleError, match=r"\\uD800 to \\uDFFF escape .* write the character"):
        parse_yaml('excerpt: "lone \\udfff"\n')
