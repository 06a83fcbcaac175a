/// One compiled L7 rule, for the requests of one parser. A parser calls `Connection.matches(request)` with
/// its own `Request` type; a rule written for another request type never matches it (and never denies it).
///
/// The connection resolves its policy's rules to `any L7Rule<Request>` once per policy snapshot, so checking
/// a request is a direct call, without a dynamic cast.
public protocol L7Rule<Request>: Sendable {
    associatedtype Request
    /// As an allow rule: whether the rule allows `request`.
    func matches(_ request: Request) -> Bool
    /// As a deny rule: whether the rule denies `request`. Differs from `matches` only where the rule cannot
    /// decide (a regular expression hitting its match limit): then a deny rule denies, failing closed.
    func denies(_ request: Request) -> Bool
}

extension L7Rule {
    public func denies(_ request: Request) -> Bool { matches(request) }
}

/// The compiled L7 rules of one `PortNetworkPolicyRule`.
public struct L7RuleSet: Sendable {
    /// A request is allowed when any of these matches; empty allows every request not denied.
    public var allow: [any L7Rule]
    /// A request matching any of these is denied, whatever else allows it.
    public var deny: [any L7Rule]

    public init(allow: [any L7Rule] = [], deny: [any L7Rule] = []) {
        self.allow = allow
        self.deny = deny
    }
}

/// Compiles the L7 part of a `PortNetworkPolicyRule` for one parser; throws `PolicyError` to reject the
/// whole policy update.
public struct L7RuleParser: Sendable {
    public let parse: @Sendable (PortNetworkPolicyRuleConfig) throws -> L7RuleSet

    public init(parse: @escaping @Sendable (PortNetworkPolicyRuleConfig) throws -> L7RuleSet) {
        self.parse = parse
    }

    /// A rule parser for generic `l7_rules`, compiling each key/value rule (allow and deny lists) with `compile`.
    public static func keyValue(_ compile: @escaping @Sendable (L7KeyValueRule) throws -> any L7Rule) -> L7RuleParser {
        L7RuleParser { config in
            guard case .generic(let allow, let deny)? = config.l7 else { return L7RuleSet() }
            return L7RuleSet(allow: try allow.map(compile), deny: try deny.map(compile))
        }
    }
}

/// Why a policy update was rejected; the NPDS client NACKs with `description`.
public struct PolicyError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
