"""Server-Sent Events: ``/draft/<D>/events`` tells open editor pages that a draft changed.

The stream sends the version token at once, then again whenever it changes; the page
compares it with the version it was rendered at and reloads. A comment line now and then
tells a closed page from an open one (writing to it fails), so its thread ends.
"""

from __future__ import annotations

from collections.abc import Iterator

from .drafts import DraftCache

PING_SECONDS = 10
RETRY_MS = 500  # how soon a browser reconnects (after a restart of the preview, say)
HEADERS = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
           ("X-Content-Type-Options", "nosniff")]


def event_stream(cache: DraftCache, ping_seconds: float = PING_SECONDS) -> Iterator[bytes]:
    """The stream's chunks, until the preview stops (or the page goes: the server then
    closes this generator)."""
    version = cache.version
    yield f"retry: {RETRY_MS}\ndata: {version}\n\n".encode()
    while not cache.closed:
        latest = cache.wait_for_change(version, ping_seconds)
        if cache.closed:
            return
        if latest != version:
            version = latest
            yield f"data: {version}\n\n".encode()
        else:
            yield b": ping\n\n"
