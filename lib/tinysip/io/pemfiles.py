"""CPython only: SSLContext.load_cert_chain from DER bytes, which CPython takes only as PEM
file paths (MicroPython takes the bytes). Kept out of io/stream so that the phone never
interns the names this needs."""
import base64
import os
import ssl
import tempfile


def load_cert_chain(ctx, cert, key):
    """Load certificate DER `cert` and PKCS#8 DER `key` through two private temporary PEM
    files, removed again at once."""
    paths = []
    try:
        for data in (ssl.DER_cert_to_PEM_cert(cert).encode(),
                     b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(key)
                     + b"-----END PRIVATE KEY-----\n"):
            fd, path = tempfile.mkstemp(suffix=".pem")  # mode 0600
            paths.append(path)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(paths[0], paths[1])
    finally:
        for path in paths:
            os.remove(path)
