"""Which URLs a webhook may be sent to: never into the vendor's own network.

A subscription URL is resolved when it is saved and again before every
delivery (a name that resolved to a public address yesterday may resolve to
127.0.0.1 today: DNS rebinding). The request then connects to the very
address that was checked, not to a second resolution.
Loopback, private, link-local, shared (CGNAT), reserved, multicast and
unspecified addresses are refused unless ``PRM_WEBHOOKS_ALLOW_PRIVATE_URLS``
is on; cloud metadata addresses are refused always.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

# Instance metadata services (AWS, GCP and Azure's link-local one, AWS IPv6, Alibaba, Azure's wire server).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)


class UnsafeURL(ValueError):
    """A URL the webhooks refuse to send to, with the reason."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``address`` may not receive webhooks, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if settings.PRM_WEBHOOKS_ALLOW_PRIVATE_URLS:
        return None
    for label, flag in (
        ("a loopback address", address.is_loopback),
        ("an unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a private address", address.is_private),
        ("a multicast address", address.is_multicast),
        ("a reserved address", address.is_reserved),
        ("a shared address", isinstance(address, ipaddress.IPv4Address) and address in _SHARED),
    ):
        if flag:
            return label
    return None


_SHARED = ipaddress.ip_network("100.64.0.0/10")


def check_url(url: str) -> Target:
    """Resolve ``url`` and return where to connect; raises ``UnsafeURL`` with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Use an http or https URL.")
    if parts.username or parts.password:
        raise UnsafeURL("Put no credentials in the URL.")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The URL names no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL("The URL's port is not a number between 0 and 65535.") from exc
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"{host} does not resolve.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise UnsafeURL(f"{host} does not resolve.")
    # Every address must pass: a name resolving to one public and one private address
    # would otherwise reach the private one on some attempts.
    for address in addresses:
        reason = refused(address)
        if reason:
            raise UnsafeURL(f"{host} resolves to {address}, {reason}: webhooks are not sent there.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, host, port, path, str(addresses[0]))
