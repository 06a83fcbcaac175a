/// A table or keyspace name as the statement writes it: `name` or `keyspace.name`, each part an unquoted or
/// a double-quoted identifier.
struct CQLName: Equatable {
    var keyspace: CQLToken?
    var name: CQLToken

    var isQualified: Bool { keyspace != nil }
}

/// One classified statement: its action and, for table and keyspace actions, the name it acts on.
struct CQLStatement: Equatable {
    var action: QueryAction
    var name: CQLName?
}

/// What a query text is.
enum CQLQueryKind: Equatable {
    /// `USE keyspace`: switches the connection's keyspace.
    case use(CQLToken)
    /// One statement, or the statements of a `BEGIN … APPLY BATCH`, each reported to the caller.
    case statements(count: Int)
    /// Not a statement this parser can classify safely (unknown, malformed, several statements, a name it
    /// cannot find): only a rule without conditions allows it.
    case unclassified
}

extension CQLLexer {
    /// The text of an identifier as Cassandra resolves it: unquoted identifiers fold to lower case, quoted
    /// ones keep their case without the quotes (a doubled quote is one).
    func appendIdentifier(_ token: CQLToken, to output: inout [UInt8]) {
        let bytes = bytes(of: token)
        if token.kind == .quotedIdentifier {
            var index = 1
            while index < bytes.count - 1 {
                let byte = bytes[index]
                output.append(byte)
                index += byte == UInt8(ascii: "\"") ? 2 : 1
            }
        } else {
            for byte in bytes { output.append(CQLLexer.lowercased(byte)) }
        }
    }

    /// The name's text as policies see it when the query already spells it that way — unquoted, lower case,
    /// `keyspace.table` without spaces or comments around the dot — so it needs no copy; nil otherwise.
    func canonicalSpelling(of name: CQLName) -> UnsafeRawBufferPointer? {
        guard name.name.kind == .word, isLowercase(name.name) else { return nil }
        guard let keyspace = name.keyspace else { return bytes(of: name.name) }
        guard keyspace.kind == .word, keyspace.end + 1 == name.name.start, isLowercase(keyspace) else { return nil }
        return bytes(of: CQLToken(kind: .word, start: keyspace.start, end: name.name.end))
    }

    private func isLowercase(_ token: CQLToken) -> Bool {
        for byte in bytes(of: token) where byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { return false }
        return true
    }

    /// Appends `keyspace.table` for `name`, with `keyspace` standing in for a missing keyspace part (nothing
    /// when there is none: the bare table name).
    func appendTableName(_ name: CQLName, defaultKeyspace: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        if let keyspace = name.keyspace {
            appendIdentifier(keyspace, to: &output)
            output.append(UInt8(ascii: "."))
        } else if !defaultKeyspace.isEmpty {
            output.append(contentsOf: defaultKeyspace)
            output.append(UInt8(ascii: "."))
        }
        appendIdentifier(name.name, to: &output)
    }
}
