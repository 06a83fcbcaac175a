/// A connection's fixed facts: direction, identities, addresses, policy name. Made once per connection and
/// shared by reference with each of its access-log entries, so an entry does not copy (and later release)
/// five strings.
public final class ConnectionFacts: Sendable, Equatable {
    public let isIngress: Bool
    public let policyName: String
    public let sourceSecurityID: UInt32
    public let destinationSecurityID: UInt32
    public let sourceAddress: String
    public let destinationAddress: String

    public init(isIngress: Bool, policyName: String, sourceSecurityID: UInt32, destinationSecurityID: UInt32,
                sourceAddress: String, destinationAddress: String) {
        self.isIngress = isIngress
        self.policyName = policyName
        self.sourceSecurityID = sourceSecurityID
        self.destinationSecurityID = destinationSecurityID
        self.sourceAddress = sourceAddress
        self.destinationAddress = destinationAddress
    }

    public static func == (lhs: ConnectionFacts, rhs: ConnectionFacts) -> Bool {
        lhs === rhs || (lhs.isIngress == rhs.isIngress && lhs.policyName == rhs.policyName
            && lhs.sourceSecurityID == rhs.sourceSecurityID && lhs.destinationSecurityID == rhs.destinationSecurityID
            && lhs.sourceAddress == rhs.sourceAddress && lhs.destinationAddress == rhs.destinationAddress)
    }
}
