"""Refuse to run unless this extension and CPython's _ssl share one libssl.

The binding reads and writes OpenSSL objects owned by CPython's _ssl module;
that is only sound when both use the same libssl in this process.
"""
import os
import ssl


def _mapped_libssl():
    """Files named libssl* mapped into this process (Linux /proc only)."""
    found = set()
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    if os.path.basename(path).startswith("libssl"):
                        found.add(path)
    except OSError:
        return None
    return found


def _file_id(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def check(core):
    """Raise ImportError if _core and _ssl do not use the same OpenSSL."""
    ours_version = core.versions()[1]
    if ours_version != ssl.OPENSSL_VERSION_NUMBER:
        raise ImportError(
            "tlsresume: built against OpenSSL 0x%08x but Python's ssl module "
            "uses 0x%08x (%s); rebuild tlsresume against the libssl that "
            "Python's _ssl loads" % (ours_version, ssl.OPENSSL_VERSION_NUMBER,
                                    ssl.OPENSSL_VERSION))
    mapped = _mapped_libssl()
    if mapped is None:          # no /proc: the version check is all we have
        return
    ours = core.libssl_path()
    try:
        ours_id = _file_id(ours)
        ids = {_file_id(p) for p in mapped}
    except OSError as e:
        raise ImportError("tlsresume: cannot check which libssl is loaded: %s"
                          % e) from None
    if ids != {ours_id}:
        raise ImportError(
            "tlsresume: Python's _ssl and tlsresume load different libssl "
            "files (mapped: %s; tlsresume: %s); a statically linked or "
            "separate OpenSSL in Python is not supported"
            % (", ".join(sorted(mapped)), ours))
