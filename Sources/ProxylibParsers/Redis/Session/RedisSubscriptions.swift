/// How many channels, patterns and shard channels the connection is subscribed to, kept from the counts in
/// the server's confirmations: RESP2 connections read messages differently while subscribed, and an
/// UNSUBSCRIBE without arguments is confirmed once per subscription it ends.
struct RedisSubscriptions {
    private(set) var channels: Int64 = 0
    private(set) var patterns: Int64 = 0
    private(set) var shardChannels: Int64 = 0
    /// The last count confirmed for channels and patterns together (redis reports them as one number).
    private var total: Int64 = 0

    var isSubscribed: Bool { channels > 0 || patterns > 0 || shardChannels > 0 }

    func count(of kind: RedisSubscriptionKind) -> Int64 {
        switch kind {
        case .channel: return channels
        case .pattern: return patterns
        case .shard: return shardChannels
        }
    }

    /// A confirmation: `count` is the number of subscriptions after it (channels and patterns together, or
    /// shard channels). A subscription that already existed, or an unsubscription of nothing, leaves it as is.
    mutating func confirm(_ kind: RedisSubscriptionKind, unsubscribe: Bool, count: Int64) {
        switch kind {
        case .shard:
            shardChannels = max(count, 0)
        case .channel, .pattern:
            let delta: Int64 = unsubscribe ? (count < total ? -1 : 0) : (count > total ? 1 : 0)
            if kind == .channel { channels = max(channels + delta, 0) } else { patterns = max(patterns + delta, 0) }
            total = max(count, 0)
        }
    }

    mutating func reset() {
        self = RedisSubscriptions()
    }
}
