"""Where a webhook may send: the URL and address checks (no request is sent by these tests)."""

import ipaddress

import pytest

from inventory.webhook_targets import UnsafeTargetError, resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "https://224.0.0.1/hook",
    ],
)
def test_a_private_loopback_or_link_local_target_is_refused(url):
    with pytest.raises(UnsafeTargetError, match="public addresses only"):
        resolve(url, allow_private=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https:///hook", "must name a host"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("http://[::1/hook", "not a valid URL"),
        ("http://example.com:99999/hook", "not a valid URL"),
    ],
)
def test_a_url_that_is_not_http_with_a_host_is_refused(url, reason):
    with pytest.raises(UnsafeTargetError, match=reason):
        resolve(url, allow_private=True)


def test_a_public_address_is_accepted_and_connected_to_as_checked():
    target = resolve("https://93.184.216.34:8443/hooks?x=1", allow_private=False)

    assert target.address == ipaddress.ip_address("93.184.216.34")
    assert target.pinned_url == "https://93.184.216.34:8443/hooks?x=1"
    assert target.host_header == "93.184.216.34:8443"


def test_a_private_target_is_accepted_when_the_setting_allows_it():
    target = resolve("http://localhost:9000/hook", allow_private=True)

    assert target.address.is_loopback
    assert target.pinned_url.endswith(":9000/hook")
    assert target.host_header == "localhost:9000"
