"""``Page``: an HTML document parsed as a browser reads it, for tests to look into.

Its elements with their attributes (``find``), the text inside each (``text_of``), the
whole text and the inline style. The archive, long-archive and serve tests read the pages
the product writes or serves through it; a module of its own, not a test module, so they
import it the same way whatever order pytest collects them in.
"""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """The elements, attributes and text of an HTML document."""

    def __init__(self, data: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.source = data.decode("utf-8")
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.texts: dict[int, list[str]] = {}  # element index -> text inside it
        self.stack: list[int] = []
        self.all_text: list[str] = []
        self.style = ""
        self.feed(self.source)
        self.close()

    VOID = {"meta", "link", "img", "br", "hr", "input", "source"}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(len(self.elements) - 1)
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open:
                self.stack.pop()
                if self.open.pop() == tag:
                    break

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] == "style":
            self.style += data
            return
        self.all_text.append(data)
        for index in self.stack:
            self.texts.setdefault(index, []).append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements
                if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def text_of(self, tag: str) -> list[str]:
        return [" ".join("".join(self.texts.get(i, [])).split())
                for i, (t, _) in enumerate(self.elements) if t == tag]

    @property
    def text(self) -> str:
        return "".join(self.all_text)
