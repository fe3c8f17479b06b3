"""``newsletter preview``: the editor sees a draft exactly as subscribers will, live.

The modules, one job each: :mod:`.drafts` renders drafts in memory and caches them until a
file changes; :mod:`.watch` sees the changes (OS notifications, polling on network mounts);
:mod:`.listing` picks the drafts on offer and the one opened first; :mod:`.view` makes the
pages; :mod:`.events` tells open pages to reload; :mod:`.app` is the WSGI application and its
routes; :mod:`.server` runs it and the watcher.
"""

from ..routing import is_loopback
from .app import PreviewApp
from .drafts import Draft, DraftCache, render_draft
from .listing import Listing, list_drafts
from .server import PreviewServer
from .view import override_hint

__all__ = ["Draft", "DraftCache", "Listing", "PreviewApp", "PreviewServer", "is_loopback",
           "list_drafts", "override_hint", "render_draft"]
