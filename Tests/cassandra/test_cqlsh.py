"""cqlsh (PyPI cqlsh, on cassandra-driver) through the proxy with the standing policy: it negotiates the protocol
version (v5 here, with LZ4), reads system.local and the schema tables, and runs statements given with -e.
Upstream's Go parser broke cqlsh (cilium/cilium#36173)."""
import os
import subprocess
import sys

import pytest

CQLSH = os.path.join(os.path.dirname(sys.executable), "cqlsh")


def cqlsh(workdir, port, statements):
    env = dict(os.environ, HOME=workdir)  # cqlsh keeps its history under ~/.cassandra
    cqlshrc = os.path.join(workdir, "cqlshrc")
    open(cqlshrc, "a").close()  # an empty configuration: none of the user's
    return subprocess.run([sys.executable, CQLSH, "127.0.0.1", str(port), "--connect-timeout", "5",
                           "--request-timeout", "5", "--cqlshrc", cqlshrc,
                           "-e", statements],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)


def test_cqlsh_select(proxy, server, workdir, key):
    k = key()
    server.direct.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 42)", (k,))
    done = cqlsh(workdir, proxy.port, f"SELECT k, v FROM ks.allowed_kv WHERE k = '{k}';")
    assert done.returncode == 0, done.stderr
    assert f" {k} | 42" in done.stdout and "(1 rows)" in done.stdout, done.stdout


def test_cqlsh_denied(proxy, server, workdir, key):
    k = key()
    done = cqlsh(workdir, proxy.port, f"SELECT * FROM ks.secret WHERE k = '{k}';")
    assert done.returncode != 0 and "Unauthorized" in done.stderr, (done.stdout, done.stderr)
    assert not server.saw(k)
