import Testing
@testable import ProxylibParsers

/// Frame-body and segment decompression against the driver's compressors, and its safety on hostile bytes.
@Suite struct CassandraDecompressorTests {
    private static let frameLimit = 256 * 1024 * 1024

    @Test func optionValues() {
        let cases: [(String, CassandraCompression?)] = [
            ("lz4", .lz4), ("LZ4", .lz4), ("Lz4", .lz4), ("snappy", .snappy), ("SNAPPY", .snappy), ("sNaPpY", .snappy),
            ("", nil), ("lz", nil), ("lz4 ", nil), (" lz4", nil), ("lz4\0", nil), ("deflate", nil), ("snappyy", nil),
            // Folding only A-Z: 0x14 | 0x20 is '4', so folding every byte would read this as "lz4".
            ("lz\u{14}", nil), ("LZ\u{14}", nil),
        ]
        for (value, expected) in cases {
            let parsed = Array(value.utf8).withUnsafeBytes { CassandraCompression(optionValue: $0) }
            #expect(parsed == expected, "\(value)")
        }
    }

    @Test func driverFrameBodiesDecompress() {
        var output: [UInt8] = [1, 2, 3]
        for vector in frameBodyVectors {
            let body = hexBytes(vector.body)
            let ok = body.withUnsafeBytes {
                CassandraDecompressor.decompressFrameBody($0, algorithm: vector.algorithm, limit: Self.frameLimit, into: &output)
            }
            #expect(ok, "\(vector.algorithm) \(vector.body.prefix(32))")
            #expect(output == vector.expected.bytes)
        }
    }

    /// The driver's compression of an empty body decodes to nothing; a body with no bytes at all has no length
    /// prefix and is malformed (the driver never flags an empty body as compressed).
    @Test func emptyBodies() {
        for algorithm in [CassandraCompression.lz4, .snappy] {
            var output: [UInt8] = [9]
            #expect(!CassandraDecompressor.decompressFrameBody(UnsafeRawBufferPointer(start: nil, count: 0),
                                                                algorithm: algorithm, limit: 100, into: &output))
            #expect(output.isEmpty)
            let driverEmpty = hexBytes(algorithm == .lz4 ? "0000000000" : "00")
            output = [9]
            #expect(driverEmpty.withUnsafeBytes {
                CassandraDecompressor.decompressFrameBody($0, algorithm: algorithm, limit: 0, into: &output)
            })
            #expect(output.isEmpty)
        }
        var output: [UInt8] = [9]
        #expect(!CassandraDecompressor.decompressLZ4Block(UnsafeRawBufferPointer(start: nil, count: 0), uncompressedLength: 0,
                                                           into: &output))
        #expect([UInt8]([0]).withUnsafeBytes { CassandraDecompressor.decompressLZ4Block($0, uncompressedLength: 0, into: &output) })
        #expect(output.isEmpty)
    }

    /// Sizes over the limit, or more than the compressed bytes could possibly expand to, are refused from the
    /// declaration alone: the output buffer never grows.
    @Test func oversizeDeclarationsAreRefusedBeforeDecompressing() {
        for vector in frameBodyVectors where vector.expected.bytes.count > 1 {
            let body = hexBytes(vector.body)
            let size = vector.expected.bytes.count
            var output: [UInt8] = []
            let refused = body.withUnsafeBytes {
                CassandraDecompressor.decompressFrameBody($0, algorithm: vector.algorithm, limit: size - 1, into: &output)
            }
            #expect(!refused && output.capacity == 0)
            let accepted = body.withUnsafeBytes {
                CassandraDecompressor.decompressFrameBody($0, algorithm: vector.algorithm, limit: size, into: &output)
            }
            #expect(accepted && output.count == size)
        }
        // Tiny blocks declaring up to 4 GiB, under a limit that would allow it.
        let hostile: [(CassandraCompression, String)] = [
            (.lz4, "ffffffff00"), (.lz4, "7fffffff1f000100ffff"), (.lz4, "0100000000"),
            (.snappy, "ffffffff0f00"), (.snappy, "80808080100000"), (.snappy, "ffff7f00"),
        ]
        for (algorithm, hex) in hostile {
            var output: [UInt8] = []
            let ok = hexBytes(hex).withUnsafeBytes {
                CassandraDecompressor.decompressFrameBody($0, algorithm: algorithm, limit: Int.max, into: &output)
            }
            #expect(!ok && output.capacity == 0, "\(algorithm) \(hex)")
        }
        var output: [UInt8] = []
        for length in [-1, Int.min, SegmentCodec.maxPayloadLength + 1, Int.max, 5 * 255 + 1] {
            #expect(![UInt8]([0x1F, 0, 1, 0, 0xFF]).withUnsafeBytes {
                CassandraDecompressor.decompressLZ4Block($0, uncompressedLength: length, into: &output)
            })
            #expect(output.capacity == 0)
        }
    }

    /// A declared length the block does not fill, or overfills, is malformed.
    @Test func declaredLengthMustMatch() {
        let block = hexBytes("ff1253454c45435420762046524f4d206b732e74626c205748455245206b203d203f3b2100ffffffb2505420762046")
        var output: [UInt8] = []
        for length in [999, 1001, 1] {
            #expect(!block.withUnsafeBytes {
                CassandraDecompressor.decompressLZ4Block($0, uncompressedLength: length, into: &output)
            }, "\(length)")
            #expect(output.isEmpty)
        }
        #expect(block.withUnsafeBytes { CassandraDecompressor.decompressLZ4Block($0, uncompressedLength: 1000, into: &output) })
        #expect(output == WirePayload.text(1000).bytes)
    }

    @Test func everyTruncationIsMalformed() {
        var output: [UInt8] = []
        for vector in frameBodyVectors where vector.body.count <= 2000 {
            let body = hexBytes(vector.body)
            for length in 0..<body.count {
                let ok = body[0..<length].withUnsafeBytes {
                    CassandraDecompressor.decompressFrameBody($0, algorithm: vector.algorithm, limit: Self.frameLimit, into: &output)
                }
                #expect(!ok, "\(vector.algorithm) \(vector.body.prefix(24)) cut to \(length)")
                #expect(output.isEmpty)
            }
        }
    }

    /// Damaged driver bodies and blocks: any answer but a trap, and a success always has the declared size.
    @Test func bitFlipsNeverTrap() {
        var random = WireRandom(state: 1)
        var output: [UInt8] = []
        for vector in frameBodyVectors {
            let body = hexBytes(vector.body)
            for _ in 0..<300 {
                var damaged = body
                for _ in 0...random.below(3) {
                    damaged[random.below(damaged.count)] ^= UInt8(truncatingIfNeeded: 1 << random.below(8))
                }
                let ok = damaged.withUnsafeBytes {
                    CassandraDecompressor.decompressFrameBody($0, algorithm: vector.algorithm, limit: 1 << 20, into: &output)
                }
                if !ok { #expect(output.isEmpty) }
                if ok && vector.algorithm == .lz4 {
                    #expect(output.count == Int(damaged[0]) << 24 | Int(damaged[1]) << 16 | Int(damaged[2]) << 8 | Int(damaged[3]))
                }
                if vector.algorithm == .lz4 && damaged.count > 4 {
                    _ = damaged[4...].withUnsafeBytes {
                        CassandraDecompressor.decompressLZ4Block($0, uncompressedLength: vector.expected.bytes.count, into: &output)
                    }
                }
            }
        }
    }

    /// Arbitrary bytes (the fuzzing guarantee, in a deterministic run): never a trap.
    @Test func arbitraryBytesNeverTrap() {
        var random = WireRandom(state: 2)
        var output: [UInt8] = []
        for _ in 0..<20000 {
            let bytes = random.bytes(random.below(64))
            let limit = random.below(1 << 16)
            for algorithm in [CassandraCompression.lz4, .snappy] {
                let ok = bytes.withUnsafeBytes {
                    CassandraDecompressor.decompressFrameBody($0, algorithm: algorithm, limit: limit, into: &output)
                }
                #expect(ok ? output.count <= limit : output.isEmpty)
            }
            let length = random.below(1024)
            let ok = bytes.withUnsafeBytes { CassandraDecompressor.decompressLZ4Block($0, uncompressedLength: length, into: &output) }
            #expect(ok ? output.count == length : output.isEmpty)
        }
    }

    /// The output buffer's capacity is reused: decoding the same body again does not grow it.
    @Test func outputCapacityIsReused() {
        guard let vector = frameBodyVectors.first(where: { $0.algorithm == .snappy && $0.expected.bytes.count == 70000 }) else {
            Issue.record("no 70000-byte snappy vector")
            return
        }
        let body = hexBytes(vector.body)
        var output: [UInt8] = []
        #expect(body.withUnsafeBytes { CassandraDecompressor.decompressFrameBody($0, algorithm: .snappy, limit: 70000, into: &output) })
        let capacity = output.capacity
        let storage = output.withUnsafeBytes { $0.baseAddress }
        #expect(body.withUnsafeBytes { CassandraDecompressor.decompressFrameBody($0, algorithm: .snappy, limit: 70000, into: &output) })
        #expect(output.capacity == capacity && output.withUnsafeBytes { $0.baseAddress } == storage)
    }
}
