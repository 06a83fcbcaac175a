#!/usr/bin/env python3
"""Vectors for the Cassandra wire codecs (Sources/ProxylibParsers/Cassandra/Wire), produced by PyPI
cassandra-driver 3.30.1 (its cassandra.segment codec and its lz4/snappy frame compressors), written as Swift.

    python3 -m venv /tmp/cw-venv && /tmp/cw-venv/bin/pip install cassandra-driver==3.30.1 lz4 python-snappy
    /tmp/cw-venv/bin/python Tests/cassandra/vectors/generate_wire_vectors.py \
        > Tests/ProxylibParsersTests/Cassandra/Wire/CassandraWireVectors.swift

Every segment stream is decoded again with the driver before it is written, and the streams marked `appendable`
are what SegmentCodec.appendSegment must produce byte for byte (the driver's own uncompressed path: for the
compressed header format, a codec whose compressor never wins, so the driver sends the payload as is with
uncompressed length 0)."""
import io
import zlib

import cassandra
from cassandra.connection import locally_supported_compressions, segment_codec_lz4
from cassandra.segment import CRC32_INITIAL, Segment, SegmentCodec, compute_crc24

assert cassandra.__version__ == "3.30.1", cassandra.__version__
MAX = Segment.MAX_PAYLOAD_LENGTH
TEXT = b"SELECT v FROM ks.tbl WHERE k = ?;"


# The payload patterns, mirrored by `WirePayload` in CassandraWireTests.swift.
def text(n):
    return (TEXT * (n // len(TEXT) + 1))[:n]


def noise(n, seed):
    x, out = seed, bytearray()
    for _ in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out.append(x & 0xFF)
    return bytes(out)


def payload_swift(spec):
    kind, *args = spec
    if kind == "text":
        return ".text(%d)" % args[0]
    if kind == "noise":
        return ".noise(%d, seed: %d)" % tuple(args)
    if kind == "zeros":
        return ".zeros(%d)" % args[0]
    return '.hex("%s")' % args[0].hex()


def payload_bytes(spec):
    kind, *args = spec
    if kind == "text":
        return text(*args)
    if kind == "noise":
        return noise(*args)
    if kind == "zeros":
        return bytes(args[0])
    return args[0]


def crc24_of(data):
    return compute_crc24(int.from_bytes(data, "little"), len(data))


def crc32_of(data):
    return zlib.crc32(data, CRC32_INITIAL) & 0xFFFFFFFF


# A codec with the compressed header format whose compressor always loses: the driver then sends every payload
# uncompressed with uncompressed length 0, the form appendSegment writes.
never_smaller = SegmentCodec(lambda data: b"\0\0\0\0" + data + b"\0", segment_codec_lz4.decompressor)


def encode(codec, frame):
    buffer = io.BytesIO()
    codec.encode(buffer, frame)
    return buffer.getvalue()


def split_stream(codec, wire, frame, compressed):
    """Decodes `wire` with the driver (checking every CRC) into segments; returns the Swift wire parts, the
    expected headers and the reassembled frame."""
    reader, parts, headers, assembled = io.BytesIO(wire), [], [], b""
    while reader.tell() < len(wire):
        start = reader.tell()
        header = codec.decode_header(reader)
        header_length = reader.tell() - start
        payload_start = reader.tell()
        segment = codec.decode(reader, header)
        raw = wire[payload_start:payload_start + header.payload_length]
        offset = len(assembled)
        assembled += segment.payload
        uncompressed = max(header.uncompressed_payload_length, 0)
        headers.append((header.payload_length, uncompressed, header.is_self_contained, header_length))
        parts.append('.hex("%s")' % wire[start:payload_start].hex())
        if uncompressed == 0 and len(raw) > 64:
            assert raw == frame[offset:offset + len(raw)]
            parts.append(".frame(from: %d, count: %d)" % (offset, len(raw)))
        else:
            parts.append('.hex("%s")' % raw.hex())
        parts.append('.hex("%s")' % wire[reader.tell() - 4:reader.tell()].hex())
    assert assembled == frame
    return parts, headers


def stream_vectors():
    plain = SegmentCodec()
    cases = [
        # name, codec, compressed header format, frame, appendable
        ("empty frame", plain, False, ("hex", b""), True),
        ("one frame header", plain, False, ("hex", bytes.fromhex("0500002a0700000004")), True),
        ("small query", plain, False, ("text", 100), True),
        ("exactly one full segment", plain, False, ("noise", MAX, 7), True),
        ("one byte over a segment", plain, False, ("noise", MAX + 1, 11), True),
        ("large frame, two segments", plain, False, ("text", 200000), True),
        ("three segments", plain, False, ("noise", 2 * MAX + 5, 3), True),
        ("lz4: incompressible, sent uncompressed", segment_codec_lz4, True, ("noise", 40, 5), False),
        ("lz4: compressed segment", segment_codec_lz4, True, ("text", 1000), False),
        ("lz4: compressed full segment", segment_codec_lz4, True, ("text", MAX), False),
        ("lz4: large frame, two compressed segments", segment_codec_lz4, True, ("text", 200000), False),
        ("lz4: large noise, two uncompressed segments", segment_codec_lz4, True, ("noise", MAX + 100, 9), False),
        ("compressed format, uncompressed: empty", never_smaller, True, ("hex", b""), True),
        ("compressed format, uncompressed: small", never_smaller, True, ("text", 300), True),
        ("compressed format, uncompressed: two segments", never_smaller, True, ("text", MAX + 1000), True),
    ]
    out = []
    for name, codec, compressed, spec, appendable in cases:
        frame = payload_bytes(spec)
        wire = encode(codec, frame)
        parts, headers = split_stream(codec, wire, frame, compressed)
        if codec is never_smaller:
            # The same bytes read by the driver's real lz4 codec, as a peer would.
            split_stream(segment_codec_lz4, wire, frame, compressed)
        out.append((name, compressed, spec, parts, headers, appendable))
    return out


def body_vectors():
    lz4_compress = locally_supported_compressions["lz4"][0]
    snappy_compress = locally_supported_compressions["snappy"][0]
    lz4_decompress = locally_supported_compressions["lz4"][1]
    snappy_decompress = locally_supported_compressions["snappy"][1]
    specs = [("hex", b""), ("hex", b"\x07"), ("text", 9), ("text", 1000), ("text", 70000), ("noise", 64, 1),
             ("noise", 3000, 2), ("zeros", 5000)]
    out = []
    for algorithm, compress, decompress in (("lz4", lz4_compress, lz4_decompress),
                                            ("snappy", snappy_compress, snappy_decompress)):
        for spec in specs:
            data = payload_bytes(spec)
            body = compress(data)
            if data:
                assert decompress(body) == data
            out.append((algorithm, body, spec))
    return out


def main():
    crc24_inputs = [b"", b"\x00", b"\xff", b"\x01\x02\x03", b"\x00\x00\x00", bytes.fromhex("2a0002"),
                    bytes.fromhex("ffff01"), bytes.fromhex("e8030000f0"), b"123456789"]
    crc32_inputs = [("hex", b""), ("hex", b"a"), ("hex", b"123456789"), ("hex", bytes(4))]
    crc32_inputs += [("noise", n, n + 100) for n in range(1, 18)] + [("text", 1000), ("noise", 131071, 42)]

    print("// Generated by Tests/cassandra/vectors/generate_wire_vectors.py from PyPI cassandra-driver %s: do not edit."
          % cassandra.__version__)
    print("")
    print("@testable import ProxylibParsers")
    print("")
    print("/// CRC24 of header bytes (cassandra.segment.compute_crc24 over the same little-endian bytes).")
    print("let crc24Vectors: [(hex: String, crc: UInt32)] = [")
    for data in crc24_inputs:
        print('    ("%s", 0x%06X),' % (data.hex(), crc24_of(data)))
    print("]")
    print("")
    print("/// Payload CRC32 (zlib.crc32 seeded with cassandra.segment.CRC32_INITIAL).")
    print("let crc32Vectors: [(payload: WirePayload, crc: UInt32)] = [")
    for spec in crc32_inputs:
        print("    (%s, 0x%08X)," % (payload_swift(spec), crc32_of(payload_bytes(spec))))
    print("]")
    print("")
    print("/// Frames encoded into segments by cassandra.segment.SegmentCodec.encode, and the headers it decodes.")
    print("let segmentStreamVectors: [SegmentStreamVector] = [")
    for name, compressed, spec, parts, headers, appendable in stream_vectors():
        print("    SegmentStreamVector(")
        print('        name: "%s", compressedFormat: %s, frame: %s, appendable: %s,'
              % (name, str(compressed).lower(), payload_swift(spec), str(appendable).lower()))
        print("        wire: [")
        for part in parts:
            print("            %s," % part)
        print("        ],")
        print("        headers: [")
        for length, uncompressed, contained, header_length in headers:
            print("            SegmentHeader(payloadLength: %d, uncompressedLength: %d, isSelfContained: %s, headerLength: %d),"
                  % (length, uncompressed, str(contained).lower(), header_length))
        print("        ]),")
    print("]")
    print("")
    print("/// v3/v4 frame bodies from the driver's lz4 and snappy frame compressors, and what they decompress to.")
    print("let frameBodyVectors: [(algorithm: CassandraCompression, body: String, expected: WirePayload)] = [")
    for algorithm, body, spec in body_vectors():
        print('    (.%s, "%s", %s),' % (algorithm, body.hex(), payload_swift(spec)))
    print("]")


if __name__ == "__main__":
    main()
