"""Who is asking: the client's address, as the trusted reverse proxies report it.

Every limit on signing in (failed logins, password reset requests, failed API
tokens) counts per address, so all of them must agree on what the address is,
and a client must not be able to choose it.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# One IPv6 subscriber usually holds a whole /64: counting single addresses would
# let it step past every limit by changing the last bits.
IPV6_PREFIX = 64


def client_address(request: HttpRequest) -> str | None:
    """The address a request came from, or None when it cannot be told.

    With ``PRM_TRUSTED_PROXY_COUNT`` = N, each of the N reverse proxies in front of
    the application appends the address it received the request from to
    ``X-Forwarded-For``: the client is the N-th entry from the right. Entries
    further left are whatever the client sent and are never believed. A request
    with fewer entries did not come through the proxies, and its peer address
    is used. With N = 0 (the default) the header is ignored.

    IPv6 clients are named by their /64 network (``2001:db8:1:2::``).
    """
    peer = request.META.get("REMOTE_ADDR", "")
    chosen = peer
    proxies = settings.PRM_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [hop for hop in forwarded if hop]
        if len(forwarded) >= proxies:
            chosen = forwarded[-proxies]
    # A hop that is not an address ("unknown") is counted under the peer, the
    # proxy itself: conservative, as all such clients then share one count.
    for candidate in (chosen, peer):
        try:
            address = ipaddress.ip_address(candidate)
            break
        except ValueError:
            continue
    else:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False).network_address)
    return str(address)
