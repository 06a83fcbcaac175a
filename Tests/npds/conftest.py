"""Fixtures for the policy-plane tests: the generated protobuf modules, the library, NPDS servers."""
import glob
import itertools
import os
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIBCILIUM = os.environ.get("LIBCILIUM", os.path.join(ROOT, "build", "libcilium.so"))
LIBDATAPATH = os.environ.get("LIBDATAPATH", os.path.join(ROOT, "build", "libdatapath.so"))


def _generate_protos():
    """Compiles the project's own .proto files with grpcio-tools into a temporary package on sys.path."""
    out = tempfile.mkdtemp(prefix="npds-pb2-")
    protos = sorted(glob.glob(os.path.join(ROOT, "Proto", "**", "*.proto"), recursive=True))
    import grpc_tools
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.join(ROOT, "Proto"),
                    "-I" + well_known, "--python_out=" + out] + protos, check=True)
    # The modules import each other by package path (cilium.api.npds_pb2 ...) as namespace packages, which
    # lets `google.rpc` live beside protobuf's own `google.protobuf`. Expose the two we use by short names.
    sys.path.insert(0, out)
    import importlib
    sys.modules["npds_pb2"] = importlib.import_module("cilium.api.npds_pb2")
    sys.modules["discovery_pb2"] = importlib.import_module("envoy.service.discovery.v3.discovery_pb2")
    sys.modules["accesslog_pb2"] = importlib.import_module("cilium.api.accesslog_pb2")


_generate_protos()
sys.path.insert(0, os.path.dirname(__file__))

import access_log_collector  # noqa: E402
import datapath  # noqa: E402
import npds_server  # noqa: E402


@pytest.fixture(scope="session")
def library():
    return datapath.Library(LIBCILIUM, LIBDATAPATH)


_ids = itertools.count(1000)


@pytest.fixture
def next_id():
    return lambda: next(_ids)


@pytest.fixture
def socket_dir():
    with tempfile.TemporaryDirectory(prefix="npds-") as d:
        yield d


@pytest.fixture
def npds(socket_dir):
    server = npds_server.NPDSServer(os.path.join(socket_dir, "xds.sock")).start()
    yield server
    server.stop()


@pytest.fixture
def module(library, npds):
    """An instance connected to the NPDS server; closed at the end of the test."""
    instance = library.open_module({"xds-path": npds.path})
    assert instance != 0
    npds.wait_for_initial_request()
    yield instance
    library.close_module(instance)


@pytest.fixture
def collector(socket_dir):
    server = access_log_collector.Collector(os.path.join(socket_dir, "access_log.sock")).start()
    yield server
    server.stop()


@pytest.fixture
def logged_module(library, npds, collector):
    """An instance with both an NPDS server and an access-log collector."""
    instance = library.open_module({"xds-path": npds.path, "access-log-path": collector.path})
    assert instance != 0
    npds.wait_for_initial_request()
    yield instance
    library.close_module(instance)
