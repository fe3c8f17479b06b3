"""Same story by what it says: TF-IDF cosine over the words of title and excerpt.

Two articles tell the same story when their texts share words that are rare in the window:
places, names, products, distinctive verbs. The weight of a word comes from the window's own
eligible articles (inverse document frequency), so the words every article of a corpus uses
("diablo", "coronavirus", "cases", "reports") count little without a list of them. Figures
are dropped, because the figures of a running story (a death toll, a case count, a price)
change with every update while the story does not.

Everything here is a pure function of the texts: the same window gives the same vectors,
scores and terms, bit for bit (floats are summed in sorted order).
"""

from __future__ import annotations

import heapq
import html
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass

# A word: letters and digits. A possessive "'s" is removed and every other apostrophe
# dropped, so "Northgate's" is "northgate" and "don't" is "dont".
_APOSTROPHE = re.compile(r"[’'`](?:s\b)?")
_WORD = re.compile(r"[^\W_]+")
# "pre-load", "co-op", "re-release": a prefix of one to three letters and a hyphen are joined
# to the word they qualify, as other outlets write it ("preload", "coop").
_SHORT_PREFIX = re.compile(r"\b([^\W\d_]{1,3})[-‐‑](?=[^\W\d_])")
# Figures and what they count in: "26,310" (two tokens), "7%", "5th", "40m", "2bn", "1990s".
# A run of five or more digits without separators is kept: it names something (an error
# code, a case or model number), where a tally that large is written "26,310".
_FIGURE = re.compile(r"\d{1,4}(?:st|nd|rd|th|s|k|m|bn|b|x)?|\d+(?:st|nd|rd|th|s|k|m|bn|b|x)")
_NUMBER_TEXT = """
    zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred hundreds thousand thousands million millions billion billions
    first second third fourth fifth dozen dozens half
    ii iii iv vi vii viii ix xi xii xiii xiv xv xvi"""
_NUMBER_WORDS = frozenset(_NUMBER_TEXT.split())
# Roman numerals count as figures: "Diablo IV" is "Diablo 4", whose figure is dropped.
# Function words say nothing about a story, and in a small window their document frequency
# is too noisy to push them down on its own.
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours out over own same she should so some such than that the
    their theirs them then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    new says said say via amp nbsp"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# A title says what the story is; an excerpt adds context and, in feeds, is often cut off
# or padded with an outlet's boilerplate. Measured on the labelled set (benchmarks/
# bench_same_story.py), a title word counting three times an excerpt word did best.
TITLE_WEIGHT = 3


def stem(word: str) -> str:
    """A crude English stem, enough to make "preloads", "preloading" and "preload" one word.

    -ies becomes -y; otherwise one of -ing, -ed, -es, -s is cut (not the s of "boss") and
    then a final -e, while at least three letters remain.
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[:-len(suffix)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    """Every word of ``text`` as written, casefolded.

    Most texts are ASCII, or become ASCII once their typographic punctuation is mapped to
    the plain kind the patterns treat alike; those take a path of C-level string methods
    that gives the same words as the patterns (``tests/test_same_story_words.py`` checks both
    paths agree on every text of the corpora and on random strings)."""
    if "&" in text:
        text = html.unescape(text)
    if text.isascii():
        text = text.lower()  # NFKC leaves ASCII alone, and casefold() is lower() on it
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        for typographic, plain in _PLAIN_PUNCTUATION:
            if typographic in text:
                text = text.replace(typographic, plain)
        if not text.isascii():
            return _unicode_tokens(text)
    if "'" in text or "`" in text:
        text = _ASCII_APOSTROPHE.sub("", text)
    if "-" in text:
        text = _ASCII_SHORT_PREFIX.sub(r"\1", text)
    return text.encode("ascii").translate(_ASCII_WORD_BYTES).decode("ascii").split()


def _unicode_tokens(text: str) -> list[str]:
    """The words of a normalized, casefolded text, by the patterns themselves."""
    if "'" in text or "’" in text or "`" in text:
        text = _APOSTROPHE.sub("", text)
    if "-" in text or "‐" in text or "‑" in text:
        text = _SHORT_PREFIX.sub(r"\1", text)
    return _WORD.findall(text)


# The ASCII path's equivalents of the patterns above. Typographic punctuation becomes the
# plain character the patterns treat alike (’ is an apostrophe, ‐ and ‑ are hyphens) or a
# space (dashes and quotes separate words, as any character that is not a letter or digit).
_PLAIN_PUNCTUATION = (("’", "'"), ("‐", "-"), ("‑", "-"),
                      *((dash_or_quote, " ") for dash_or_quote in "‘“”–—‒•«»·"))
_ASCII_APOSTROPHE = re.compile(r"['`](?:s(?![a-z0-9_]))?")
_ASCII_SHORT_PREFIX = re.compile(r"(?<![a-z0-9_])([a-z]{1,3})-(?=[a-z])")
_ASCII_WORD_BYTES = bytes(byte if chr(byte).isalnum() and byte < 128 else 32
                          for byte in range(256))


# token -> its term, or "" for a figure, a number word or a function word. A window's
# vocabulary is small beside its number of words. When the cache grows large a new one
# replaces it (never emptied in place: a reader holding the old one still finds its words).
_TERMS: dict[str, str] = {}
_TERMS_KEPT = 1 << 17


def _term(token: str) -> str | None:
    """The term a word counts as, or None for a figure, a number word or a function word."""
    term = _TERMS.get(token)
    if term is None:
        term = _terms_of((token,))[token]
    return term or None


def _terms_of(tokens: Collection[str]) -> dict[str, str]:
    """The cache of terms, holding (from now on) every one of ``tokens``."""
    global _TERMS
    known = _TERMS
    missing = [token for token in tokens if token not in known]
    if len(known) + len(missing) > _TERMS_KEPT:
        known = _TERMS = {}
        missing = list(tokens)
    for token in missing:
        if token in _STOPWORDS or token in _NUMBER_WORDS or _FIGURE.fullmatch(token):
            known[token] = ""
        else:
            known[token] = stem(token)
    return known


def words(text: str) -> list[str]:
    """The content words of ``text`` in order, casefolded, without figures or function words."""
    return [token for token in _tokens(text) if _term(token) is not None]


def terms(text: str) -> list[str]:
    """The stems of the content words of ``text``, in order."""
    return [term for term in map(_term, _tokens(text)) if term is not None]


@dataclass(frozen=True)
class Similarity:
    score: float  # cosine, 0 to 1
    terms: tuple[str, ...]  # the (at most three) words that weighed most in the score


class StoryVectors:
    """The TF-IDF vectors of one window's articles, unit length, under the caller's keys.

    ``texts`` maps a key (an article id) to its (title, excerpt). A word's count is three
    per use in the title and one per use in the excerpt, dampened as 1 + ln(count); its
    inverse document frequency is ln((1 + N) / (1 + df)) + 1 over the N texts given, so a
    word in every text weighs 1 and a word in one text of 2,000 about 8.6. Every text is
    read once for the document frequencies; a vector is counted and weighed when first
    asked for (placement asks for few of a large window's).
    """

    def __init__(self, texts: Mapping[str, tuple[str, str]]) -> None:
        self._texts = texts
        # Each text is split into words once: for the frequencies, its vector, its terms.
        self._words: dict[str, tuple[list[str], list[str]]] = {}
        frequency: Counter[str] = Counter()
        for key, (title, excerpt) in texts.items():
            words = self._words[key] = (_tokens(title), _tokens(excerpt))
            tokens = set(words[0])
            tokens.update(words[1])
            terms = _TERMS
            if not tokens <= terms.keys():
                terms = _terms_of(tokens)
            found = set(map(terms.__getitem__, tokens))
            found.discard("")
            frequency.update(found)
        self._frequency = frequency
        self._total = len(texts)
        self._vectors: dict[str, dict[str, float]] = {}

    def vector(self, key: str) -> dict[str, float]:
        """The unit-length weights of ``key``'s words (empty for a text without any)."""
        found = self._vectors.get(key)
        if found is None:
            title, excerpt = self._words[key]
            counts = Counter(filter(None, map(_term, excerpt)))
            for term in filter(None, map(_term, title)):
                counts[term] += TITLE_WEIGHT
            total, frequency = self._total, self._frequency
            weights = {term: (1 + math.log(count))
                       * (math.log((1 + total) / (1 + frequency[term])) + 1)
                       for term, count in sorted(counts.items())}
            norm = math.sqrt(math.fsum(w * w for w in weights.values()))
            found = {t: w / norm for t, w in weights.items()} if norm else {}
            self._vectors[key] = found
        return found

    def similarity(self, key: str, other: str) -> Similarity:
        """The cosine of two texts and the words (as ``key`` writes them) that weighed most."""
        return self.explained(key, _cosine(self.vector(key), self.vector(other)))

    def explained(self, key: str, found: tuple[float, tuple[str, ...]]) -> Similarity:
        """A score and its stems, the stems shown as ``key``'s text first writes them."""
        score, stems = found
        surface: dict[str, str] = {}
        for token in (*self._words[key][0], *self._words[key][1]):
            term = _term(token)
            if term is not None:
                surface.setdefault(term, token)
        return Similarity(score, tuple(surface.get(s, s) for s in stems))


def _cosine(first: Mapping[str, float], second: Mapping[str, float]
            ) -> tuple[float, tuple[str, ...]]:
    """The dot product of two unit vectors and the three words contributing most to it.

    ``math.fsum`` rounds the exact sum, so the score does not depend on the order of words."""
    if len(second) < len(first):
        first, second = second, first
    shared = [(first[w] * second[w], w) for w in first if w in second]
    score = min(math.fsum(product for product, _ in shared), 1.0)
    top = heapq.nsmallest(3, shared, key=lambda pair: (-pair[0], pair[1]))
    return score, tuple(word for _, word in top)


def _cosine_to_sum(vector: Mapping[str, float], total: Mapping[str, float], norm: float
                   ) -> tuple[float, tuple[str, ...]]:
    """:func:`_cosine` of a unit vector and a sum of them of length ``norm``: the words of
    the (short) vector are looked up in the (long) sum, which is never scaled."""
    shared = [(weight * total[word], word) for word, weight in vector.items() if word in total]
    score = min(math.fsum(product for product, _ in shared) / norm, 1.0) if norm else 0.0
    top = heapq.nsmallest(3, shared, key=lambda pair: (-pair[0], pair[1]))
    return score, tuple(word for _, word in top)


class StoryIndex:
    """The stories of one issue so far, searched for the one a candidate tells.

    A story is the article placed for it and every article folded into it; it is matched
    as a whole, by the sum of its members' vectors (its centroid), so it grows as outlets
    join it: a third article may share more with two others together than with either.
    An inverted index (word -> the stories using it, with the story's summed weight) gives
    a candidate's dot product with every story it shares a word with in one pass, at one
    step per story and word whatever the number of members.
    """

    def __init__(self, vectors: StoryVectors, threshold: float,
                 linked_threshold: float | None = None) -> None:
        self._vectors = vectors
        self._threshold = threshold
        self._linked_threshold = threshold if linked_threshold is None else linked_threshold
        self._postings: dict[str, dict[int, float]] = {}  # word -> story -> summed weight
        self._sums: dict[int, dict[str, float]] = {}  # story -> sum of its members' vectors
        # story -> its squared length, kept up to date as members join (in placement order,
        # so the same issue gives the same floats bit for bit)
        self._squares: dict[int, float] = {}
        self._norms: dict[int, float] = {}  # story -> the length of its summed vector

    def add(self, key: str, story: int) -> None:
        """``key`` tells ``story`` (a new story when it has no member yet)."""
        total = self._sums.setdefault(story, {})
        square = self._squares.get(story, 0.0)
        for word, weight in self._vectors.vector(key).items():
            before = total.get(word, 0.0)
            summed = before + weight
            total[word] = summed
            square += summed * summed - before * before
            self._postings.setdefault(word, {})[story] = summed
        self._squares[story] = square
        self._norms[story] = math.sqrt(max(square, 0.0))

    def best_story(self, key: str, linked: frozenset[int] = frozenset()
                   ) -> tuple[int, Similarity] | None:
        """The story whose centroid is most similar to ``key``'s text, if the score reaches
        the threshold (the linked threshold for the stories in ``linked``); None otherwise.
        Ties go to the first story added."""
        vector = self._vectors.vector(key)
        dots: dict[int, float] = {}
        for word, weight in vector.items():
            for story, summed in self._postings.get(word, {}).items():
                dots[story] = dots.get(story, 0.0) + weight * summed
        # The summed dot products may differ from the exact sum in the last bits: they only
        # order the stories that can pass (near or above their threshold), which are then
        # scored again with an exact sum, best first, until no later one can come near.
        margin = 1e-9
        norms = self._norms
        lowest = min(self._threshold, self._linked_threshold) - margin
        near: list[tuple[float, int]] = []
        for story, dot in dots.items():
            norm = norms[story]
            if not norm or dot < lowest * norm:
                continue
            needed = self._linked_threshold if story in linked else self._threshold
            if dot / norm >= needed - margin:
                near.append((-dot / norm, story))
        near.sort()
        best: tuple[float, int, tuple[float, tuple[str, ...]]] | None = None
        for negative, story in near:
            if best is not None and -negative < best[0] - margin:
                break
            score, stems = _cosine_to_sum(vector, self._sums[story], norms[story])
            needed = self._linked_threshold if story in linked else self._threshold
            if score >= needed and (best is None or (score, -story) > (best[0], -best[1])):
                best = (score, story, (score, stems))
        if best is None:
            return None
        return best[1], self._vectors.explained(key, best[2])
