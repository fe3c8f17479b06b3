"""The words of the similar-text rule: the fast path for ASCII texts gives exactly the words the
patterns give, on the sample corpus, the shared corpora when they are beside the checkout, and
random strings made of the characters where the two could part (apostrophes, hyphens, the
underscore, typographic quotes and dashes, letters that casefold or normalize to others)."""

from __future__ import annotations

import html
import unicodedata
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conftest import PROJECT
from newsletter.selecting import same_story
from newsletter.selecting.same_story import StoryVectors, _tokens, _unicode_tokens, terms

SHARED_CORPORA = PROJECT.parent / "shared" / "corpus"


def by_the_patterns(text: str) -> list[str]:
    """The words as the patterns alone find them, after the same unescaping and folding."""
    if "&" in text:
        text = html.unescape(text)
    return _unicode_tokens(unicodedata.normalize("NFKC", text).casefold())


def lines_of(folder: Path, pattern: str) -> list[str]:
    return [line for path in sorted(folder.glob(pattern))
            for line in path.read_text("utf-8", errors="replace").splitlines()]


def test_every_line_of_the_corpora_splits_alike() -> None:
    lines = lines_of(PROJECT / "articles", "**/*.*")
    lines += lines_of(SHARED_CORPORA, "*/*.txt")  # none when the shared corpora are absent
    assert len(lines) > 2_000
    assert [line for line in lines if _tokens(line) != by_the_patterns(line)] == []


TRICKY = "aAsSzZ09_'`’‘-‐‑–—“”«»·•…&;#x é ﬁİßΣ\u200b\u0301\t"


@given(st.text(alphabet=TRICKY, max_size=24))
@example("Northgate's pre-load isn't co-op's")
@example("Diablo IV’s re‑release — “Ashava”’s")
@example("it's_s the x-ray & co&#45;op")
@example("ﬁ-sh İs-tanbul")
def test_random_text_splits_alike(text: str) -> None:
    assert _tokens(text) == by_the_patterns(text)


def test_the_ascii_path_keeps_the_rules_of_words() -> None:
    assert _tokens("Northgate's Pre-Load isn’t a co-op — it's “Ashava”") == [
        "northgate", "preload", "isnt", "a", "coop", "it", "ashava"]
    assert terms("Diablo 4’s pre‑loads: 26,310 players") == ["diablo", "preload", "player"]


def test_a_full_cache_of_terms_is_replaced_without_losing_a_window_s_words(
        monkeypatch: pytest.MonkeyPatch) -> None:
    texts = {f"a{n}": (f"Northgate delays accelerator {n}", f"Chipmaker {n} shares slide")
             for n in range(30)}
    texts["b"] = ("Wayline begins driverless rides in Tucson", "Riders get a first taste")
    expected = StoryVectors(texts)
    monkeypatch.setattr(same_story, "_TERMS", {})
    monkeypatch.setattr(same_story, "_TERMS_KEPT", 8)  # fewer than one text's words
    vectors = StoryVectors(texts)
    assert [vectors.vector(key) for key in texts] == [expected.vector(key) for key in texts]
    assert len(same_story._TERMS) <= 8 + 10
