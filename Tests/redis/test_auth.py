"""AUTH through the proxy, in front of a redis-server with --requirepass: AUTH and HELLO … AUTH always pass
(a policy of `@read` only still lets a client log in), the server judges the password, and the password never
appears in the access log (nor anywhere in proxylib-host's output)."""
import pytest
import redis

from conftest import DIRECT, proxied_client, start_proxy, start_server
from host_procs import wait_for
from rd_policy import policy_yaml

PASSWORD = "s3cret-Pa55word-never-logged"


@pytest.fixture(scope="module")
def auth_server(workdir):
    server = start_server(workdir, name="redis-auth", password=PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_proxy(workdir, auth_server):
    host = start_proxy(workdir, auth_server, policy_yaml(auth_server.port, [{"command": "@read"}]),
                       name="proxylib-host-auth")
    yield host
    host.stop()


@pytest.fixture
def auth_direct(auth_server):
    client = auth_server.client(decode_responses=True)
    yield client
    client.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_password_client_under_a_read_only_policy(protocol, auth_proxy, auth_direct, key):
    k = key("any")
    auth_direct.set(k, "value")
    client = proxied_client(auth_proxy.port, password=PASSWORD, protocol=protocol)  # AUTH, or HELLO 3 AUTH
    try:
        assert client.get(k) == "value"
        assert client.exists(k) == 1
        with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'set'"):
            client.set(k, "changed")
        with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'del'"):
            client.delete(k)
        # AUTH again on the open connection: passes (the server answers).
        assert client.execute_command("AUTH", PASSWORD) is True
    finally:
        client.close()
    assert auth_direct.get(k) == "value"


def test_the_server_judges_the_password(auth_proxy, key):
    with pytest.raises(redis.exceptions.AuthenticationError):
        proxied_client(auth_proxy.port, password="wrong").ping()
    unauthenticated = proxied_client(auth_proxy.port)
    with pytest.raises(redis.exceptions.AuthenticationError):
        unauthenticated.get(key())
    unauthenticated.close()


def test_redis_cli_with_a_password(cli, auth_proxy, auth_direct, key):
    k = key("any")
    auth_direct.set(k, "v")
    assert cli("GET", k, port=auth_proxy.port, extra=["-a", PASSWORD, "--no-auth-warning"]) == '"v"\n'
    assert cli("SET", k, "x", port=auth_proxy.port, extra=["-a", PASSWORD, "--no-auth-warning"]) == \
        "(error) NOPERM the network policy does not allow 'set'\n"
    assert auth_direct.get(k) == "v"


def test_the_password_is_never_logged(auth_proxy, key):
    if DIRECT:
        pytest.fail("REDIS_DIRECT=1: there is no proxy access log", pytrace=False)
    k = key("any")
    client = proxied_client(auth_proxy.port, password=PASSWORD)
    client.get(k)
    client.execute_command("AUTH", "default", PASSWORD)
    client.execute_command("HELLO", "2", "AUTH", "default", PASSWORD)
    client.close()
    wait_for(lambda: any(e.get("generic_l7", {}).get("fields", {}).get("keys") == k for e in auth_proxy.entries()),
             "the GET's access-log entry")
    auths = [e for e in auth_proxy.entries() if e.get("generic_l7", {}).get("fields", {}).get("command") in
             ("auth", "hello")]
    assert {e["generic_l7"]["fields"]["command"] for e in auths} == {"auth", "hello"}
    for e in auths:
        assert e["entry_type"] in ("Request", "Response") and e["generic_l7"]["fields"].get("keys", "") == ""
    assert PASSWORD not in auth_proxy.process.out and PASSWORD not in auth_proxy.process.err
