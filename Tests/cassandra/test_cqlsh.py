"""cqlsh (PyPI cqlsh, on cassandra-driver) through the proxy with the standing policy: it negotiates the protocol
version (v5 here) or takes --protocol-version 4, reads system.local and the schema tables, and runs the
statements given with -e. It compresses with LZ4 when the lz4 module is installed (cqlsh does not depend on it:
a bare `pip install cqlsh` talks uncompressed); both are run. Upstream's Go parser broke cqlsh
(cilium/cilium#36173)."""
import os
import subprocess
import sys

import pytest

CQLSH = os.path.join(os.path.dirname(sys.executable), "cqlsh")

# (id, --protocol-version, lz4 importable)
VARIANTS = pytest.mark.parametrize("version,lz4", [(None, True), (None, False), (4, True), (4, False)],
                                   ids=["negotiated-lz4", "negotiated", "v4-lz4", "v4"])


def cqlsh(workdir, port, statements, version, lz4):
    env = dict(os.environ, HOME=workdir)  # cqlsh keeps its history under ~/.cassandra
    if not lz4:
        # A package named lz4 whose import fails shadows the installed one: the driver then offers no compression.
        shim = os.path.join(workdir, "no-lz4")
        os.makedirs(os.path.join(shim, "lz4"), exist_ok=True)
        with open(os.path.join(shim, "lz4", "__init__.py"), "w") as f:
            f.write("raise ImportError('lz4 hidden by the cqlsh test')\n")
        env["PYTHONPATH"] = shim
    cqlshrc = os.path.join(workdir, "cqlshrc")
    open(cqlshrc, "a").close()  # an empty configuration: none of the user's
    return subprocess.run([sys.executable, CQLSH, "127.0.0.1", str(port), "--connect-timeout", "5",
                           "--request-timeout", "5", "--cqlshrc", cqlshrc,
                           *(["--protocol-version", str(version)] if version else []), "-e", statements],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)


@VARIANTS
def test_cqlsh_select(proxy, server, workdir, key, version, lz4):
    k = key()
    server.direct.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 42)", (k,))
    done = cqlsh(workdir, proxy.port, f"SELECT k, v FROM ks.allowed_kv WHERE k = '{k}';", version, lz4)
    assert done.returncode == 0, done.stderr
    assert f" {k} | 42" in done.stdout and "(1 rows)" in done.stdout, done.stdout
    startup = next(line for line in reversed(server.requests()) if "STARTUP" in line)
    assert ("'COMPRESSION': 'lz4'" in startup) == lz4, startup
    assert f" v{version or 5} STARTUP" in startup


@VARIANTS
def test_cqlsh_denied(proxy, server, workdir, key, version, lz4):
    k = key()
    done = cqlsh(workdir, proxy.port, f"SELECT * FROM ks.secret WHERE k = '{k}';", version, lz4)
    assert done.returncode != 0 and "Unauthorized" in done.stderr, (done.stdout, done.stderr)
    assert not server.saw(k)
