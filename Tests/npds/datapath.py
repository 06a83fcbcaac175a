"""ctypes bindings to the C datapath (Sources/CDatapath, built as build/libdatapath.so).

The datapath is cilium-envoy's onIo() logic in C; these bindings let the policy scenarios drive a real
libcilium.so exactly as Envoy would, while Python plays the NPDS server. ctypes releases the GIL during
foreign calls, so several Python threads really call into the library at the same time.
"""
import ctypes
import os

FILTER_RESULTS = ["OK", "POLICY_DROP", "PARSER_ERROR", "UNKNOWN_PARSER", "UNKNOWN_CONNECTION",
                  "INVALID_ADDRESS", "INVALID_INSTANCE", "UNKNOWN_ERROR"]
OP_NAMES = ["MORE", "PASS", "DROP", "INJECT", "ERROR"]


class GoString(ctypes.Structure):
    _fields_ = [("p", ctypes.c_char_p), ("n", ctypes.c_ssize_t)]


class GoSlice(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_longlong), ("cap", ctypes.c_longlong)]


class FilterOp(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint64), ("n_bytes", ctypes.c_int64)]


class DpLibrary(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("open_module", ctypes.c_void_p), ("close_module", ctypes.c_void_p),
                ("on_new_connection", ctypes.c_void_p), ("on_data", ctypes.c_void_p), ("close", ctypes.c_void_p)]


class DpParam(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class DpBuf(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("len", ctypes.c_size_t), ("cap", ctypes.c_size_t)]

    def take(self):
        """Returns the bytes and empties the buffer."""
        data = ctypes.string_at(self.data, self.len) if self.len else b""
        self.len = 0
        return data


_ON_DATA = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint8, ctypes.c_uint8,
                            ctypes.POINTER(GoSlice), ctypes.POINTER(GoSlice))


class Library:
    """One libcilium.so loaded through the datapath (dlopen by path, as cilium-envoy does)."""

    def __init__(self, libcilium_path, datapath_path):
        self.dp = ctypes.CDLL(datapath_path)
        self._declare()
        self.lib = DpLibrary()
        err = ctypes.create_string_buffer(512)
        if self.dp.dp_library_open(libcilium_path.encode(), ctypes.byref(self.lib), err, len(err)) != 0:
            raise RuntimeError(err.value.decode())
        self._on_data = _ON_DATA(self.lib.on_data)

    def _declare(self):
        dp = self.dp
        dp.dp_library_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(DpLibrary), ctypes.c_char_p, ctypes.c_size_t]
        dp.dp_open_module.argtypes = [ctypes.POINTER(DpLibrary), ctypes.POINTER(DpParam), ctypes.c_size_t, ctypes.c_int]
        dp.dp_open_module.restype = ctypes.c_uint64
        dp.dp_close_module.argtypes = [ctypes.POINTER(DpLibrary), ctypes.c_uint64]
        dp.dp_conn_new.argtypes = [ctypes.POINTER(DpLibrary), ctypes.c_uint64, ctypes.c_char_p, ctypes.c_uint64,
                                   ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_char_p,
                                   ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        dp.dp_conn_free.argtypes = [ctypes.c_void_p]
        dp.dp_conn_id.argtypes = [ctypes.c_void_p]
        dp.dp_conn_id.restype = ctypes.c_uint64
        dp.dp_conn_is_open.argtypes = [ctypes.c_void_p]
        dp.dp_filter_on_data.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                         ctypes.POINTER(DpBuf), ctypes.POINTER(DpBuf)]
        dp.dp_filter_on_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                          ctypes.POINTER(DpBuf)]
        dp.dp_conn_inject_peek.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t)]
        dp.dp_conn_inject_peek.restype = ctypes.POINTER(ctypes.c_uint8)
        dp.dp_conn_inject_reset.argtypes = [ctypes.c_void_p, ctypes.c_int]
        dp.dp_buf_free.argtypes = [ctypes.POINTER(DpBuf)]

    def open_module(self, params=None, debug=False):
        params = params or {}
        array = (DpParam * max(len(params), 1))()
        for i, (key, value) in enumerate(params.items()):
            array[i] = DpParam(key.encode(), value.encode())
        return self.dp.dp_open_module(ctypes.byref(self.lib), array, len(params), int(debug))

    def close_module(self, instance_id):
        self.dp.dp_close_module(ctypes.byref(self.lib), instance_id)

    def connect(self, instance_id, proto, connection_id, ingress=True, src_id=1, dst_id=2,
                src_addr="1.1.1.1:34567", dst_addr="10.0.0.2:80", policy_name="1.1.1.1"):
        """Returns (result name, Connection or None)."""
        handle = ctypes.c_void_p()
        res = self.dp.dp_conn_new(ctypes.byref(self.lib), instance_id, proto.encode(), connection_id, int(ingress),
                                  src_id, dst_id, src_addr.encode(), dst_addr.encode(), policy_name.encode(),
                                  ctypes.byref(handle))
        name = FILTER_RESULTS[res] if 0 <= res < len(FILTER_RESULTS) else str(res)
        return name, (Connection(self, handle) if name == "OK" else None)

    def on_data_raw(self, connection_id, segments, reply=False, end_stream=False, ops_cap=16):
        """Calls OnData directly with `segments` (a list of bytes); returns (result name, [(op, n)])."""
        buffers = [ctypes.create_string_buffer(s, len(s)) for s in segments]
        slices = (GoSlice * max(len(segments), 1))()
        for i, (buf, seg) in enumerate(zip(buffers, segments)):
            slices[i] = GoSlice(ctypes.cast(buf, ctypes.c_void_p), len(seg), len(seg))
        data = GoSlice(ctypes.cast(slices, ctypes.c_void_p), len(segments), len(segments))
        ops = (FilterOp * max(ops_cap, 1))()
        op_slice = GoSlice(ctypes.cast(ops, ctypes.c_void_p), 0, ops_cap)
        res = self._on_data(connection_id, int(reply), int(end_stream), ctypes.byref(data), ctypes.byref(op_slice))
        decoded = [(OP_NAMES[ops[i].op] if ops[i].op < len(OP_NAMES) else str(ops[i].op), ops[i].n_bytes)
                   for i in range(op_slice.len)]
        return FILTER_RESULTS[res], decoded


class Connection:
    """A proxied connection: client → server is the original direction, server → client the reply."""

    def __init__(self, library, handle):
        self.library = library
        self.handle = handle
        self.id = library.dp.dp_conn_id(handle)
        self.to_server = DpBuf()
        self.to_client = DpBuf()

    def client_sends(self, data, end_stream=False):
        """Runs the original direction; returns (result, bytes forwarded to the server, bytes sent to the client)."""
        dp = self.library.dp
        res = dp.dp_filter_on_data(self.handle, data, len(data), int(end_stream), ctypes.byref(self.to_server),
                                   ctypes.byref(self.to_client))
        return FILTER_RESULTS[res], self.to_server.take(), self.to_client.take()

    def server_sends(self, data, end_stream=False):
        """Runs the reply direction; returns (result, bytes forwarded to the client)."""
        res = self.library.dp.dp_filter_on_write(self.handle, data, len(data), int(end_stream),
                                                 ctypes.byref(self.to_client))
        return FILTER_RESULTS[res], self.to_client.take()

    def on_data_raw(self, segments, reply=False, ops_cap=16):
        """OnData with exact segments; returns (result, ops, reply-direction inject bytes) and empties the buffer."""
        res, ops = self.library.on_data_raw(self.id, segments, reply=reply, ops_cap=ops_cap)
        size = ctypes.c_size_t()
        pointer = self.library.dp.dp_conn_inject_peek(self.handle, 1, ctypes.byref(size))
        injected = ctypes.string_at(pointer, size.value) if size.value else b""
        self.library.dp.dp_conn_inject_reset(self.handle, 1)
        self.library.dp.dp_conn_inject_reset(self.handle, 0)
        return res, ops, injected

    @property
    def is_open(self):
        return bool(self.library.dp.dp_conn_is_open(self.handle))

    def close(self):
        if self.handle:
            self.library.dp.dp_buf_free(ctypes.byref(self.to_server))
            self.library.dp.dp_buf_free(ctypes.byref(self.to_client))
            self.library.dp.dp_conn_free(self.handle)
            self.handle = None
