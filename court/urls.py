"""How a URL is named in messages: scheme, host and port only.

A chain node's JSON-RPC URL often carries a secret: a basic-auth password
(``http://user:password@proxy:8545``), a node provider's API key in the path
(``https://node.example/v3/KEY``) or in the query (``?apikey=KEY``). Messages
that name the URL reach logs, ``notary anchor status``, health text and a
court's record of a verification, so every one of them names it through
:func:`public_url`, in ``court`` and in the gateway alike.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from court.report.escape import escape_text

__all__ = ["public_url"]

_LIMIT: Final = 200


def public_url(url: object) -> str:
    """``scheme://host:port`` of ``url`` (the port only when the URL has one), escaped;
    never its user name, password, path, query or fragment."""
    if not isinstance(url, str):
        return "(not a URL)"
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:  # an invalid port or IPv6 literal
        return "(an invalid URL)"
    if not parts.scheme or not host:
        return "(a URL without a host)"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    text = f"{parts.scheme}://{host}" + ("" if port is None else f":{port}")
    text = escape_text(text)
    return text if len(text) <= _LIMIT else text[:_LIMIT] + "..."
