"""SSRF guard: an integrator's endpoint must resolve to public addresses only.

Checked when the endpoint is registered and again before every attempt (DNS may change). Redirects
are never followed (see :func:`kycguard.delivery.channels.post`), so a public host cannot bounce the
request inward.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class AddressRefused(ValueError):
    pass


def refused_reason(url: str, *, allow_private: bool, require_https: bool = False) -> str | None:
    """Why ``url`` may not receive webhooks, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("https",) + (() if require_https else ("http",)):
        return "the URL must be " + ("https://..." if require_https else "http(s)://...")
    if not parts.hostname or parts.username or parts.password:
        return "the URL needs a host and no user:password"
    if allow_private:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        return f"the host does not resolve ({type(exc).__name__})"
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            kind = (
                "loopback"
                if ip.is_loopback
                else "link-local"
                if ip.is_link_local
                else "private"
                if ip.is_private
                else "non-public"
            )
            return f"the host resolves to a {kind} address ({ip})"
    return None
