"""I/O adapters: the only code in tinysip that touches clocks, sockets, ssl, select and files."""
import os

from tinysip.compat import sha256_hex


def certstore(d):
    """The certificate cache's store (tinysip.certservice Cache) in the files of directory
    `d` (config certificates.cache_dir): made if missing, its *.der files (an earlier run's
    cache) removed; OSError when it cannot be used. The store keeps one file per AoR named
    by its SHA-256: store(aor, der) keeps der (OSError when the file system cannot),
    store(aor, b"") forgets it, store(aor) gives it back or None. A certificate in flash is
    ~750 B less of the GC heap, on 32 bits as on 64. Here, in the package every phone loads,
    rather than a module of its own: one interned name, no module's heap."""
    try:
        os.mkdir(d)
    except OSError:  # (there already, or not to be made: listdir tells)
        pass
    for n in os.listdir(d):
        if n.endswith(".der"):
            os.remove(d + "/" + n)

    def store(aor, der=None):
        p = "%s/%s.der" % (d, sha256_hex(aor)[:16].decode())
        if der:
            with open(p, "wb") as f:
                f.write(der)
        elif der is None:
            try:
                with open(p, "rb") as f:
                    return f.read()
            except OSError:
                return None
        else:
            try:
                os.remove(p)
            except OSError:
                pass
        return None

    return store
