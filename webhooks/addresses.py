"""Whether a receiver's host is on the public Internet, checked before each attempt.

An institution admin chooses the URL: without this check, Vigie's workers could be made to POST
to the machines of their own network (server-side request forgery: a metadata service, an
internal admin). Every address the host resolves to must be global (not private, loopback,
link-local, reserved or multicast). ``VIGIE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`` lifts it: on with
DEBUG and in the tests (receivers on loopback), and for a deployment whose receivers are on
its own private network. The name is resolved again when the connection is made, so a DNS
answer that changes in between (rebinding) is not caught: docs/WEBHOOKS.md §Security says so.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


def non_public_address(url: str) -> str | None:
    """The first address of the URL's host that is not global, or "unresolved"; None when
    every address is global."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return "unresolved"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return str(address)
    return None
