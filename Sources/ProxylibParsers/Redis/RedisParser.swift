import ProxylibCore

/// `redis`: the Redis protocol, RESP2 and RESP3 (the first protocol the Go proxylib never had).
///
/// Requests (multibulk or inline, pipelined) are checked against the policy by command, ACL category, keys,
/// channels and database (`RedisRule`), with keys found the way redis's ACL finds them (the command table is
/// generated from redis's own metadata). A denied request is dropped and answered `-NOPERM …` in the position
/// its reply would have had among pipelined replies; inside MULTI the transaction then fails at EXEC with
/// `-EXECABORT`, as redis fails it. Replies of every RESP type are framed so each is matched to its request;
/// pub/sub messages and RESP3 pushes pass as they come. Malformed input closes the connection.
///
///     l7proto: redis
///     l7: [{command: "@read", keyPrefix: "public:"}, {command: set, keyPrefix: "cache:"}]
public final class RedisParser: ConnectionParser {
    public static let name = "redis"

    let connection: Connection
    let facts = RedisRequestFacts()
    var reader = RedisRequestReader()
    var framer = RESPReplyFramer()
    var replies = ReplyOrder<RedisIntent>()
    var subscriptions = RedisSubscriptions()
    var logText = RedisLogText()

    /// The database the next request runs in, as the requests so far select it.
    var db: Int64 = 0
    var selectGeneration: UInt32 = 0
    var transaction = RedisTransaction()
    var replyMode = RedisReplyMode.on
    /// After MONITOR: the server streams every command it runs; replies are no longer matched to requests.
    var monitoring = false
    /// After `HELLO 3`: messages come as pushes, never as array replies.
    var resp3 = false
    /// The DROP of an EXEC after its DISCARD replacement was injected.
    var pendingDrop: Int?
    /// What the reply being passed answers.
    var currentReply = RedisReplyTarget.none
    /// The first byte of the reply being passed (its RESP type).
    var replyType: UInt8 = 0
    /// The reply being passed is a subscription confirmation answering the oldest request.
    var replyIsConfirmation = false
    /// The reply being passed is RESP2's null array (`*-1`).
    var replyIsNullArray = false
    var headScratch: [UInt8] = []

    public init(connection: Connection) {
        self.connection = connection
        headScratch.reserveCapacity(RESPHeader.maxLength)
    }

    public func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        reply ? onReply(input) : onRequest(input)
    }
}

/// Whether the server answers the next requests (CLIENT REPLY).
enum RedisReplyMode {
    case on
    case off
    /// The next command gets no reply.
    case skipNext
}

/// MULTI … EXEC as the requests have shaped it.
struct RedisTransaction {
    var isOpen = false
    /// A command of this transaction was denied: EXEC must fail.
    var isAborted = false
    /// A SELECT queued in the transaction: the commands after it run in this database.
    var selectedDB: Int64?
}

/// Whom the reply being framed answers.
enum RedisReplyTarget {
    case none
    /// The oldest request.
    case intent
    /// The DISCARD sent in place of an EXEC: dropped, and the denial injected instead.
    case probe
    /// Nobody: a message, a push, a MONITOR line, a reply with no request due.
    case unsolicited
}
