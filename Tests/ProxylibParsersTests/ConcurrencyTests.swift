import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Different connections on different threads, while policy updates land: no lock is shared between a
/// policy check and an update, and every answer is one of the published policies' answers.
@Suite struct ConcurrencyTests {
    @Test func connectionsOnManyThreadsWhilePoliciesChange() async throws {
        let fixture = ParserFixture()
        let allowRead = portPolicy("r2d2", allow: [["cmd": "READ"]])
        let allowWrite = portPolicy("r2d2", allow: [["cmd": "WRITE"]])
        try fixture.install([allowRead])
        let runtime = fixture.runtime
        let instanceID = fixture.instanceID

        try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    let connection = TestConnection(runtime: runtime, instanceID: instanceID, parser: "r2d2",
                                                    id: 50_000 + UInt64(worker))
                    var decided = 0
                    for _ in 0..<2_000 {
                        let outcome = connection.onData("READ /a\r\n")
                        guard outcome.result == FILTER_OK, outcome.ops.count == 2 else { return -1 }
                        switch outcome.ops[0] {
                        case .pass(9): decided += outcome.replyInjected.isEmpty ? 1 : -100_000
                        case .drop(9): decided += outcome.replyInjected == Array("ERROR\r\n".utf8) ? 1 : -100_000
                        default: return -1
                        }
                    }
                    return decided
                }
            }
            group.addTask {
                let instance = try #require(runtime.instances.find(instanceID))
                for round in 0..<500 {
                    try instance.updatePolicy([round.isMultiple(of: 2) ? allowWrite : allowRead], version: "\(round)")
                }
                return 0
            }
            var total = 0
            for try await decided in group { total += decided }
            #expect(total == 4 * 2_000)
        }
    }

    /// Regression (make test-tsan): TestConnection numbered connections with an unsynchronized static counter,
    /// a data race when connections are made on several threads, which could give two of them one id.
    @Test func testConnectionIDsAreUniqueAcrossThreads() async throws {
        let fixture = ParserFixture()
        let runtime = fixture.runtime
        let instanceID = fixture.instanceID
        let ids = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    (0..<250).map { _ in
                        TestConnection(runtime: runtime, instanceID: instanceID, parser: "test.passer").id
                    }
                }
            }
            var all: [UInt64] = []
            for await some in group { all += some }
            return all
        }
        #expect(ids.count == 1_000)
        #expect(Set(ids).count == ids.count)
    }
}
