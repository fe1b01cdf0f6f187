"""Self-signed certificates for 127.0.0.1 made with `openssl`, and what a client sees of them."""

from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
from pathlib import Path


def make_certificate(where: Path) -> tuple[Path, Path]:
    """A new key and a certificate for it, valid for 127.0.0.1 and localhost: (cert, key)."""
    where.mkdir(parents=True, exist_ok=True)
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def fingerprint(cert: Path) -> str:
    """The SHA-256 of a PEM certificate file's DER form."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()


def served_fingerprint(port: int) -> str:
    """The SHA-256 of the certificate a new TLS connection to `port` is shown."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()
