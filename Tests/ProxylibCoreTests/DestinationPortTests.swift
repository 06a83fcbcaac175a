import Testing
@testable import ProxylibCore

@Suite struct DestinationPortTests {
    @Test(arguments: [
        ("10.0.0.2:80", UInt32(80)),
        ("[f00d::1]:8080", 8080),
        ("host:65535", 65535),
        ("1.1.1.1:4294967295", 4_294_967_295),
        (":99", 99),
        ("[::]:1", 1),
    ])
    func valid(address: String, port: UInt32) {
        #expect(DestinationPort.parse(address) == port)
    }

    @Test(arguments: [
        "10.0.0.2:XYZ", "10.0.0.2", "10.0.0.2:0", "10.0.0.2:", "f00d::1:80", "[f00d::1]", "[f00d::1]x:80",
        "[f00d::1]:80:90", "1.1.1.1:4294967296", "1.1.1.1:+80", "1.1.1.1:-1", "a[b:80", "a]b:80", "[a[b]:80", "",
    ])
    func invalid(address: String) {
        #expect(DestinationPort.parse(address) == nil)
    }
}
