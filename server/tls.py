"""The server's TLS settings: TLS 1.2 or later, and on TLS 1.2 only forward-secret AEAD suites;
and its certificate, which `ReloadableCertificate` reads again on SIGHUP.

On TLS 1.2 OpenSSL's defaults still offer static-RSA key exchange (a stolen key decrypts
every recorded session) and CBC with SHA-1 (padding-oracle prone). Only ECDHE or DHE key
exchange with AES-GCM or ChaCha20-Poly1305 is kept; TLS 1.3 suites are all of that kind and
are configured apart by OpenSSL, so this list does not touch them.
"""

from __future__ import annotations

from typing import Any

from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.error import VerifyError
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.logger import Logger
from twisted.protocols.tls import BufferingTLSTransport, TLSMemoryBIOFactory
from zope.interface import implementer  # type: ignore[import-untyped]  # no type information

FORWARD_SECRET_AEAD = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"

log = Logger()


def tls_options(cert_path: str, key_path: str) -> ssl.CertificateOptions:
    """Context options for `listenSSL` from a PEM certificate and its PEM key.

    A key that does not match the certificate is refused here (`VerifyError`), and the OpenSSL
    context made, so that nothing about the files is left to fail at the first handshake."""
    with open(cert_path, "rb") as cert, open(key_path, "rb") as key:
        pair = ssl.PrivateCertificate.loadPEM(cert.read() + key.read())
    options = ssl.CertificateOptions(
        privateKey=pair.privateKey.original,
        certificate=pair.original,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(FORWARD_SECRET_AEAD),
    )
    options.getContext()
    return options


def fingerprint(options: ssl.CertificateOptions) -> str:
    """The SHA-256 fingerprint of the certificate `options` serves, as OpenSSL prints it."""
    return ssl.Certificate(options.certificate).digest("sha256").decode()


@implementer(IOpenSSLServerConnectionCreator)
class ReloadableCertificate:
    """What `listenSSL` makes each new TLS connection from: the certificate and key last
    loaded from their files. `reload()` reads them again; a connection already open keeps
    the OpenSSL context it began with, so only connections made afterwards see the change."""

    def __init__(self, cert_path: str, key_path: str) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self.options = tls_options(cert_path, key_path)

    def serverConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        return SSL.Connection(self.options.getContext(), None)

    def reload(self) -> None:
        """Load the files again; if they cannot be used, say why and keep the current pair."""
        try:
            options = tls_options(self.cert_path, self.key_path)
        except (OSError, crypto.Error, SSL.Error, VerifyError) as exc:
            log.error(
                "kept the TLS certificate in use ({fingerprint}): cannot load {cert} with "
                "{key}: {why}",
                fingerprint=fingerprint(self.options),
                cert=self.cert_path,
                key=self.key_path,
                why=_reason(exc),
            )
            return
        self.options = options
        log.info(
            "reloaded the TLS certificate {cert}: {fingerprint}",
            cert=self.cert_path,
            fingerprint=fingerprint(options),
        )


class CertificateError(Exception):
    """The certificate or its key cannot be used; the message says which files and why."""


def load_certificate(cert_path: str, key_path: str) -> ReloadableCertificate:
    """The pair to serve, loaded now (before the server opens its database), so that a bad
    file ends the start with its reason rather than after the writer has started."""
    try:
        return ReloadableCertificate(cert_path, key_path)
    except (OSError, crypto.Error, SSL.Error, VerifyError) as exc:
        raise CertificateError(
            f"cannot load the TLS certificate {cert_path} with the key {key_path}: "
            f"{_reason(exc)} (--tls-cert and --tls-key take PEM files the server can read)"
        ) from None


def _reason(exc: Exception) -> str:
    """OpenSSL's errors are lists of (library, function, reason) triples: the reasons."""
    if isinstance(exc, crypto.Error | SSL.Error) and exc.args and isinstance(exc.args[0], list):
        return "; ".join(str(entry[-1]) for entry in exc.args[0]) or type(exc).__name__
    return str(exc)


def tls_factory(certificate: ReloadableCertificate, factory: Any) -> Any:
    """`factory` behind TLS with `certificate`, as `listenSSL` would put it, to be listened on
    with `listenTCP` (so that something may come before TLS on the wire:
    `server.proxy_gate`). Typed `Any`: mypy cannot see which zope interfaces Twisted's
    classes provide."""
    creator: Any = certificate
    return _WireWatchingTLSFactory(creator, False, factory)


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
