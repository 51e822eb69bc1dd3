"""Where a webhook may send: http(s) URLs whose host resolves to public addresses only.

A webhook URL is chosen by a user, and the worker POSTs to it from inside the shop's network:
without a check, `http://169.254.169.254/` or `http://10.0.0.5:5432/` would turn the worker into
a way to reach what the internet cannot. So the host is resolved and every address it gives
must be public, when the webhook is saved and again before every delivery (DNS answers change);
the delivery then connects to the address that was checked, not to a second lookup's answer.
`WEBHOOK_ALLOW_PRIVATE_TARGETS=true` lifts the address check (a receiver on the same network).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTargetError(ValueError):
    """The URL is not one a webhook may send to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to for it."""

    url: str
    host: str
    address: IpAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = f"{host}:{parts.port}" if parts.port else host
        return parts._replace(netloc=netloc).geturl()

    @property
    def host_header(self) -> str:
        """The Host header the receiver expects."""
        parts = urlsplit(self.url)
        return parts.netloc.rpartition("@")[2]


def origin(url: str) -> str:
    """Scheme, host and port of `url`: what an event may tell of a webhook's URL, whose path
    or query is often a credential of its own (a chat service's incoming-webhook URL)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def check_shape(url: str) -> SplitResult:
    """An absolute http(s) URL with a host and no credentials, else UnsafeTargetError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeTargetError(f"not a valid URL: {error}") from error
    if parts.scheme not in ("http", "https"):
        raise UnsafeTargetError("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeTargetError("the URL must name a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTargetError("the URL must not hold a user name or password")
    if port == 0:
        raise UnsafeTargetError("the URL's port must be 1-65535")
    return parts


def _is_public(address: IpAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_global and not address.is_multicast


def resolve(url: str, allow_private: bool) -> Target:
    """Check `url`, resolve its host, and return the address to connect to.

    UnsafeTargetError when the URL is not http(s), the host does not resolve, or (unless
    `allow_private`) any of its addresses is private, loopback, link-local or otherwise not
    public: one public answer next to a private one is refused too, since either may be used.
    """
    parts = check_shape(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnsafeTargetError(f"the host {host!r} does not resolve") from error
    addresses = [ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers]
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise UnsafeTargetError(
                    f"the host {host!r} resolves to {address}, a private, loopback or "
                    "link-local address; webhooks go to public addresses only"
                )
    return Target(url=url, host=host, address=addresses[0])
