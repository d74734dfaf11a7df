"""The client address every sign-in limit counts by: believed only as far as the trusted proxies go."""

import pytest
from django.test import RequestFactory

from accounts.addresses import client_address


def request_from(peer: str | None = "203.0.113.9", forwarded: str | None = None):
    meta = {}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)
    if peer is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = peer
    return request


def test_without_proxies_the_peer_is_the_client_and_the_header_is_ignored(settings):
    settings.PRM_TRUSTED_PROXY_COUNT = 0
    assert client_address(request_from(forwarded="198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # The proxy appends the address it saw; what the client wrote further left is ignored.
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "192.0.2.66, 198.51.100.7", "198.51.100.7"),
        (2, "192.0.2.66, 198.51.100.7, 203.0.113.200", "198.51.100.7"),
        # Fewer hops than proxies: the request did not come through them.
        (2, "198.51.100.7", "203.0.113.9"),
        # A hop that is not an address is counted under the peer.
        (1, "192.0.2.66, unknown", "203.0.113.9"),
    ],
)
def test_behind_proxies_the_client_is_the_hop_the_outermost_proxy_saw(settings, proxies, forwarded, expected):
    settings.PRM_TRUSTED_PROXY_COUNT = proxies
    assert client_address(request_from(forwarded=forwarded)) == expected


def test_ipv6_clients_are_counted_by_their_64_network(settings):
    settings.PRM_TRUSTED_PROXY_COUNT = 0
    first = client_address(request_from(peer="2001:db8:1:2:aaaa::1"))
    second = client_address(request_from(peer="2001:db8:1:2:bbbb::2"))
    assert first == second == "2001:db8:1:2::"
    assert client_address(request_from(peer="2001:db8:1:3::1")) == "2001:db8:1:3::"
    assert client_address(request_from(peer="::ffff:203.0.113.9")) == "203.0.113.9"


def test_no_address_at_all(settings):
    settings.PRM_TRUSTED_PROXY_COUNT = 0
    assert client_address(request_from(peer=None)) is None
