"""The server's TLS settings: TLS 1.2 or later, and on TLS 1.2 only forward-secret AEAD suites.

On TLS 1.2 OpenSSL's defaults still offer static-RSA key exchange (a stolen key decrypts
every recorded session) and CBC with SHA-1 (padding-oracle prone). Only ECDHE or DHE key
exchange with AES-GCM or ChaCha20-Poly1305 is kept; TLS 1.3 suites are all of that kind and
are configured apart by OpenSSL, so this list does not touch them.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import ssl
from twisted.protocols.tls import BufferingTLSTransport, TLSMemoryBIOFactory

FORWARD_SECRET_AEAD = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"


def tls_options(cert_path: str, key_path: str) -> ssl.CertificateOptions:
    """Context options for `listenSSL` from a PEM certificate and its PEM key."""
    with open(cert_path, "rb") as cert, open(key_path, "rb") as key:
        pair = ssl.PrivateCertificate.loadPEM(cert.read() + key.read())
    return ssl.CertificateOptions(
        privateKey=pair.privateKey.original,
        certificate=pair.original,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(FORWARD_SECRET_AEAD),
    )


def tls_factory(cert_path: str, key_path: str, factory: Any) -> Any:
    """`factory` behind TLS, as `listenSSL` would put it, to be listened on with `listenTCP`
    (so that something may come before TLS on the wire: `server.proxy_gate`). Typed `Any`:
    mypy cannot see which zope interfaces Twisted's classes provide."""
    options: Any = tls_options(cert_path, key_path)
    return _WireWatchingTLSFactory(options, False, factory)


class _WireWatchingTLS(BufferingTLSTransport):
    """Twisted's TLS, which first shows the bytes off the wire to the server's connection,
    so that a PROXY header sent where none is honoured is refused and logged as it is
    without TLS (`WarungConnection.opens_with_proxy_header`; after the first few bytes it
    returns at once)."""

    def dataReceived(self, data: bytes) -> None:
        connection: Any = self.wrappedProtocol
        if not connection.opens_with_proxy_header(data):
            super().dataReceived(data)


class _WireWatchingTLSFactory(TLSMemoryBIOFactory):
    protocol = _WireWatchingTLS
