import Testing
@testable import ProxylibFuzzTargets

/// The `datapath-@name@` oracle must be able to fail: streams it has to reject, and ones it has to accept.
@Suite struct @Name@OracleTests {
    let oracle = @Name@Oracle()

    @Test(arguments: [
        ("GET private/a\n", UInt32(1)),       // not under public/
        ("GET public/secret\n", 1),           // the deny rule
        ("PING\n", 9),                        // remote 9 is denied everything
        ("PUT tmp/a\n", 1),                   // only remote 7 may PUT
        ("PING\nGET public/a", 1),            // a partial request
        ("1GET public/a\n", 1),               // not a request at all
    ])
    func rejects(stream: String, remote: UInt32) {
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array(stream.utf8), written: [], remote: remote) }
    }

    @Test(arguments: [
        ("GET public/a\r\nPING\n", UInt32(1)),
        ("PUT tmp/a\nGET public/b c\n", 7),
        ("", 9),
    ])
    func accepts(stream: String, remote: UInt32) {
        #expect(throws: Never.self) { try oracle.checkForwarded(Array(stream.utf8), written: [], remote: remote) }
    }
}
