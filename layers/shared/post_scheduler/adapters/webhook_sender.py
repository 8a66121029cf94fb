"""Webhook targets: which URLs may receive our requests (no SSRF), and the signed POST itself.

A target must be https and every address its host resolves to must be public: not private,
loopback, link-local (the cloud metadata service lives there), shared, reserved, multicast or
unspecified. The check runs at registration and again at each delivery, and the delivery
connects to the very address that was checked (the host name still goes in `Host` and TLS SNI,
and the certificate is verified against it), so a DNS answer that changes in between (DNS
rebinding) cannot redirect it. The local stack may allow plain http to loopback, so that a
receiver on the same machine can be tried.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from post_scheduler.domain.errors import UnsafeTarget as UnsafeTarget
from post_scheduler.domain.ports import SendResult as SendResult
from post_scheduler.domain.ports import Target as Target

# Addresses no check may let through, whatever the ipaddress module thinks of them.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
# Carrier-grade NAT (RFC 6598): not public, whatever a Python version says of it.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_RESPONSE_BYTES_READ = 64 * 1024

Resolver = Callable[[str, int], list[str]]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class UrlGuard:
    def __init__(
        self, *, allow_loopback_http: bool = False, resolve: Resolver | None = None
    ) -> None:
        self.allow_loopback_http = allow_loopback_http
        self._resolve = resolve

    def resolve(self, host: str, port: int) -> list[str]:
        return (self._resolve or resolve_host)(host, port)

    def check(self, url: str) -> Target:
        """The target of `url`, or UnsafeTarget."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise UnsafeTarget("the URL is not valid") from None
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if scheme != "https" and not (scheme == "http" and self.allow_loopback_http):
            raise UnsafeTarget("the URL must use https")
        if not host:
            raise UnsafeTarget("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise UnsafeTarget("the URL must not hold credentials")
        port = port or (443 if scheme == "https" else 80)
        try:
            literal = ipaddress.ip_address(host)
            addresses = [str(literal)]
        except ValueError:
            try:
                addresses = self.resolve(host, port)
            except (OSError, UnicodeError, ValueError):  # ValueError: e.g. a NUL in the name
                raise UnsafeTarget(f"the host {host[:100]!r} does not resolve") from None
        if not addresses:
            raise UnsafeTarget(f"the host {host[:100]!r} does not resolve")
        loopback_only = all(_is_loopback(a) for a in addresses)
        if self.allow_loopback_http and loopback_only:
            pass  # the local stack's receivers on this machine, http or https
        else:
            if scheme != "https":
                raise UnsafeTarget("the URL must use https")
            for address in addresses:
                reason = _refusal(address)
                if reason:
                    raise UnsafeTarget(
                        f"the host {host[:100]!r} resolves to {address}, {reason}; webhooks go"
                        " to public addresses only"
                    )
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return Target(scheme, host, port, path, addresses[0])


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _refusal(address: str) -> str | None:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return "the cloud metadata service"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or ip in _SHARED:
        return "not a public address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def send(target: Target, headers: dict[str, str], body: bytes, timeout: float) -> SendResult:
    """POST `body` to the checked target's address; redirects are not followed."""
    import urllib3

    pool: Any
    if target.scheme == "https":
        import certifi

        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, maxsize=1)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        try:
            response.read(_RESPONSE_BYTES_READ)
        finally:
            response.release_conn()
        status = int(response.status)
        return SendResult(status, None if 200 <= status < 300 else f"HTTP {status}")
    except urllib3.exceptions.TimeoutError:
        return SendResult(None, f"no answer within {timeout:g} s")
    except urllib3.exceptions.HTTPError as exc:
        return SendResult(None, f"connection failed: {type(exc).__name__}")
    finally:
        pool.close()
