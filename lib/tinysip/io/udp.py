"""A non-blocking UDP socket for RTP, bound on `host` at `port` or the next even ports
(RFC 3550 §11: RTP on even ports). Shared by the mirror (io/media) and the loopback source
(io/probe). The unix port cannot tell which port the kernel picked (no getsockname), so the
caller names one and we walk up from it.
"""
import socket


def bind(host, port, tries=16):
    """(socket, bound port); the last OSError when every port tried is taken."""
    for i in range(tries):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(socket.getaddrinfo(host, port + 2 * i)[0][-1])
            break
        except OSError:
            s.close()
            if i == tries - 1:
                raise
    s.setblocking(False)
    return s, port + 2 * i
