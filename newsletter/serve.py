"""``newsletter.serve.Site``, as the README names it: the public site lives in
:mod:`newsletter.web.public`."""

from .web.public import Site, make_server, site_address

__all__ = ["Site", "make_server", "site_address"]
