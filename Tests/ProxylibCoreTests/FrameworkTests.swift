import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibTestSupport

func makeRuntime(_ extra: (inout ParserRegistry) -> Void = { _ in }, log: RecordingAccessLog? = nil) -> ProxylibRuntime {
    var registry = ParserRegistry()
    registry.register(parser: "test.throwing", ThrowingParserFactory())
    registry.register(parser: "test.flooding", FloodingParserFactory())
    registry.register(ruleParser: "test.equals", .equals)
    extra(&registry)
    return ProxylibRuntime(registry: registry, makeAccessLog: { _ in log })
}

@Suite struct OpenModuleTests {
    @Test func sameParamsShareAnInstance() {
        let runtime = makeRuntime()
        let first = runtime.openModule([], debug: false)
        let second = runtime.openModule([], debug: false)
        #expect(first != 0 && first == second)
        #expect(runtime.openModule([("dummy-key", "dummy-value"), ("key2", "value2")], debug: false) == 0)
        let withLog = runtime.openModule([("access-log-path", "/tmp/a.sock")], debug: false)
        #expect(withLog != 0 && withLog != first)
        let withNode = runtime.openModule([("access-log-path", "/tmp/a.sock"), ("node-id", "host~127.0.0.1~libcilium~localdomain")], debug: false)
        #expect(withNode != 0 && withNode != first && withNode != withLog)
        // An empty node id matches any node id with the same paths.
        #expect(runtime.openModule([("access-log-path", "/tmp/a.sock")], debug: false) == withLog)
        #expect(runtime.instances.find(withNode)?.nodeID == "host~127.0.0.1~libcilium~localdomain")
        #expect(runtime.instances.find(first)?.nodeID == "host~127.0.0.2~libcilium-\(first)~localdomain")
    }

    @Test func closeCountsOpens() {
        let runtime = makeRuntime()
        let id = runtime.openModule([("xds-path", "/tmp/x.sock")], debug: false)
        #expect(runtime.openModule([("xds-path", "/tmp/x.sock")], debug: false) == id)
        runtime.closeModule(id)
        #expect(runtime.instances.find(id) != nil)
        runtime.closeModule(id)
        #expect(runtime.instances.find(id) == nil)
        runtime.closeModule(id)  // closing again is harmless
        #expect(runtime.openModule([("xds-path", "/tmp/x.sock")], debug: false) != id, "ids are not reused")
    }
}

@Suite struct OnNewConnectionTests {
    // Upstream TestOnNewConnection, plus IPv6 and an unknown instance.
    @Test func admission() {
        let runtime = ProxylibRuntime(registry: {
            var registry = ParserRegistry()
            registry.register(parser: "test.throwing", ThrowingParserFactory())
            registry.register(parser: "test.refusing", RefusingFactory())
            return registry
        }())
        let mod = runtime.openModule([], debug: false)
        func admit(_ parser: String, _ dst: String, policy: String = "1.1.1.1", instance: UInt64? = nil) -> FilterResult {
            TestConnection(runtime: runtime, instanceID: instance ?? mod, parser: parser, destinationAddress: dst, policyName: policy).admission
        }
        #expect(admit("invalid-parser-should-not-exist", "10.0.0.2:80") == FILTER_UNKNOWN_PARSER)
        #expect(admit("test.throwing", "10.0.0.2:XYZ") == FILTER_INVALID_ADDRESS)
        #expect(admit("test.throwing", "10.0.0.2") == FILTER_INVALID_ADDRESS)
        #expect(admit("test.throwing", "10.0.0.2:0") == FILTER_INVALID_ADDRESS)
        #expect(admit("test.refusing", "10.0.0.2:80") == FILTER_POLICY_DROP)
        #expect(admit("test.throwing", "10.0.0.2:80", instance: 9999) == FILTER_INVALID_INSTANCE)
        #expect(admit("test.throwing", "[f00d::2]:80") == FILTER_OK)
        #expect(runtime.connections.count == 0, "test connections close when released")

        let a = TestConnection(runtime: runtime, instanceID: mod, parser: "test.throwing", id: 1)
        let b = TestConnection(runtime: runtime, instanceID: mod, parser: "test.throwing", ingress: false,
                               sourceID: 2, destinationID: 1, sourceAddress: "10.0.0.2:80",
                               destinationAddress: "1.1.1.1:34567", policyName: "2.2.2.2", id: 12345678901234567890)
        #expect(a.admission == FILTER_OK && b.admission == FILTER_OK)
        #expect(runtime.connections.count == 2)
        #expect(runtime.connections.find(12345678901234567890)?.remoteSecurityID == 1)
        #expect(runtime.connections.find(1)?.remoteSecurityID == 1)
        runtime.close(connectionID: 1)
        #expect(runtime.connections.count == 1)
        #expect(a.onData(segments: [[1]]).result == FILTER_UNKNOWN_CONNECTION)
    }

    /// Parsers hold their connection strongly; Close (or a reused id) must still free both.
    @Test func closedConnectionsAndTheirParsersAreFreed() {
        let runtime = makeRuntime()
        let mod = runtime.openModule([], debug: false)
        weak var closed: Connection?
        weak var replaced: Connection?
        do {
            let first = TestConnection(runtime: runtime, instanceID: mod, parser: "test.flooding", id: 7)
            #expect(first.admission == FILTER_OK)
            closed = runtime.connections.find(7)
            runtime.close(connectionID: 7)
            let second = TestConnection(runtime: runtime, instanceID: mod, parser: "test.flooding", id: 8)
            replaced = runtime.connections.find(8)
            // The caller reuses id 8 without closing it: the old connection is dropped.
            let third = TestConnection(runtime: runtime, instanceID: mod, parser: "test.flooding", id: 8)
            #expect(second.admission == FILTER_OK && third.admission == FILTER_OK)
            #expect(runtime.connections.find(8) !== replaced)
        }
        #expect(closed == nil)
        #expect(replaced == nil)
        #expect(runtime.connections.count == 0)
    }

    struct RefusingFactory: ParserFactory {
        func makeParser(for connection: Connection) -> (any Parser)? { nil }
    }
}

@Suite struct OpLoopTests {
    func connection(_ script: [ParserOp], injectBufferSize: Int = 1024, log: RecordingAccessLog? = nil) -> TestConnection {
        let runtime = makeRuntime({ $0.register(parser: "test.scripted", ScriptedParserFactory(script: script)) }, log: log)
        let mod = runtime.openModule([], debug: false)
        return TestConnection(runtime: runtime, instanceID: mod, parser: "test.scripted", injectBufferSize: injectBufferSize)
    }

    @Test func passAndDropLoopBackEvenWithNoInputLeft() {
        let c = connection([.pass(2), .drop(2), .inject(10), .pass(5), .nop])
        let outcome = c.onData("abcd")
        #expect(outcome.result == FILTER_OK)
        #expect(outcome.ops == [.pass(2), .drop(2), .inject(10), .pass(5)])
        #expect(outcome.originalInjected == Array("0123456789".utf8))
    }

    @Test func moreAndErrorAreTerminal() {
        #expect(connection([.more(3), .pass(1)]).onData("x").ops == [.more(3)])
        let error = connection([.error(.invalidFrameType), .pass(1)]).onData("x")
        #expect(error.ops == [.error(.invalidFrameType)] && error.result == FILTER_OK)
    }

    @Test func opsStopAtTheCallersCapacity() {
        let c = connection(Array(repeating: .pass(1), count: 40))
        #expect(c.onData(segments: [Array(repeating: 0x41, count: 40)], opsCapacity: 16).ops.count == 16)
        #expect(c.onData(segments: [Array(repeating: 0x41, count: 24)], opsCapacity: 2).ops == [.pass(1), .pass(1)])
        #expect(c.onData(segments: [[0x41]], opsCapacity: 0).ops.isEmpty)
    }

    @Test func zeroAndNegativeLengthsAreParserErrors() {
        #expect(connection([.pass(0)]).onData("x").result == FILTER_PARSER_ERROR)
        #expect(connection([.pass(1), .drop(-1)]).onData("x").result == FILTER_PARSER_ERROR)
        #expect(connection([.more(0)]).onData("x").result == FILTER_PARSER_ERROR)
    }

    @Test func injectStopsWhenTheBufferIsFull() {
        let runtime = makeRuntime()
        let mod = runtime.openModule([], debug: false)
        let c = TestConnection(runtime: runtime, instanceID: mod, parser: "test.flooding", injectBufferSize: 250)
        let outcome = c.onData("x")
        #expect(outcome.ops == [.inject(100), .inject(100), .inject(50)])
        #expect(outcome.originalInjected.count == 250)
    }

    @Test func injectLongerThanTheBufferIsAContractViolation() {
        let log = RecordingAccessLog()
        let c = connection([.inject(11)], log: log)
        #expect(c.onData("x").result == FILTER_PARSER_ERROR)
        #expect(log.count(.denied) == 1)
    }

    // Upstream TestOnDataPanic: a failing parser closes the connection and logs a Denied "Panic" entry.
    @Test func throwingParserIsAParserErrorWithAPanicLogEntry() throws {
        let log = RecordingAccessLog()
        let runtime = makeRuntime(log: log)
        let mod = runtime.openModule([("access-log-path", "/tmp/log.sock")], debug: false)
        let c = TestConnection(runtime: runtime, instanceID: mod, parser: "test.throwing", injectBufferSize: 30)
        let outcome = c.onData("foo")
        #expect(outcome.result == FILTER_PARSER_ERROR && outcome.ops.isEmpty)
        #expect(c.onData(reply: true, "foo").result == FILTER_OK)
        let entry = try #require(log.all.first)
        #expect(log.all.count == 1 && entry.entryType == .denied)
        #expect(entry.l7 == .generic(proto: "test.throwing", fields: [("status", "Panic: ThrowingParser refuses 3 bytes")]))
        #expect(entry.policyName == "1.1.1.1" && entry.sourceAddress == "1.1.1.1:34567" && entry.destinationAddress == "10.0.0.2:80")
        #expect(entry.isIngress && entry.sourceSecurityID == 1 && entry.destinationSecurityID == 2)
        #expect(entry.timestampNanoseconds > 1_700_000_000_000_000_000)
    }

    @Test func malformedOpsSliceIsRejected() {
        let runtime = makeRuntime({ $0.register(parser: "test.scripted", ScriptedParserFactory(script: [.pass(1)])) })
        let mod = runtime.openModule([], debug: false)
        let c = TestConnection(runtime: runtime, instanceID: mod, parser: "test.scripted")
        var ops = GoSlice(data: nil, len: 0, cap: 4)
        var data = GoSlice(data: nil, len: 0, cap: 0)
        #expect(runtime.onData(connectionID: c.id, reply: false, endStream: false, data: &data, ops: &ops) == FILTER_UNKNOWN_ERROR)
        #expect(runtime.onData(connectionID: c.id, reply: false, endStream: false, data: &data, ops: nil) == FILTER_UNKNOWN_ERROR)
    }
}
