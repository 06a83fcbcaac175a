import ProxylibCore

extension CassandraParser {
    /// Whether the policy allows `statement`. An unqualified table is checked in every keyspace it may resolve
    /// to (`KeyspaceTracker`); each must be allowed.
    func isAllowed(_ statement: CQLStatement, _ lexer: CQLLexer, keyspace: UnsafeRawBufferPointer?) -> Bool {
        let candidates = needsKeyspace(statement) && keyspace == nil ? max(keyspaces.candidateCount, 1) : 1
        for candidate in 0..<candidates {
            let allowed = withTableName(statement, lexer, keyspace: keyspace, candidate: candidate) { table in
                connection.matches(CassandraRequest(kind: .statement, action: statement.action, table: table))
            }
            if !allowed { return false }
        }
        return true
    }

    func isAllowed(_ stored: StoredStatement) -> Bool {
        stored.table.withUnsafeBytes { table in
            connection.matches(CassandraRequest(kind: .statement, action: stored.action, table: table))
        }
    }

    /// Calls `body` with the statement's table as policies see it: `keyspace.table`, the keyspace part taken
    /// from the request's own keyspace (v5), else the `candidate`-th keyspace of the connection; the keyspace
    /// alone for keyspace actions; empty without a table.
    func withTableName<Result>(_ statement: CQLStatement, _ lexer: CQLLexer, keyspace: UnsafeRawBufferPointer?,
                               candidate: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        tableScratch.removeAll(keepingCapacity: true)
        guard let name = statement.name else { return tableScratch.withUnsafeBytes(body) }
        if statement.action.tableKind == .keyspace || name.isQualified {
            if let spelled = lexer.canonicalSpelling(of: name) { return body(spelled) }
            lexer.appendTableName(name, defaultKeyspace: Self.empty, to: &tableScratch)
        } else if let keyspace {
            lexer.appendTableName(name, defaultKeyspace: keyspace, to: &tableScratch)
        } else {
            var scratch = tableScratch
            tableScratch = []
            keyspaces.withCandidate(candidate) { keyspace in
                lexer.appendTableName(name, defaultKeyspace: keyspace, to: &scratch)
            }
            tableScratch = scratch
        }
        return tableScratch.withUnsafeBytes(body)
    }

    private func needsKeyspace(_ statement: CQLStatement) -> Bool {
        guard let name = statement.name else { return false }
        return statement.action.tableKind == .table && !name.isQualified
    }

    // MARK: Access log (generic_l7 `cassandra` {query_action, query_table}, as upstream)

    func logStatement(_ statement: CQLStatement, _ lexer: CQLLexer, keyspace: UnsafeRawBufferPointer?, allowed: Bool) {
        guard connection.logsAccess else { return }
        // The client's latest keyspace choice names the table in the log — unless the statement was denied in
        // another keyspace it may resolve to (a USE in flight): then that one, the reason for the denial.
        var candidate = keyspaces.candidateCount - 1
        if !allowed && keyspace == nil && needsKeyspace(statement) && keyspaces.candidateCount > 1 {
            for index in 0..<keyspaces.candidateCount {
                let denied = withTableName(statement, lexer, keyspace: nil, candidate: index) { table in
                    !connection.matches(CassandraRequest(kind: .statement, action: statement.action, table: table))
                }
                if denied {
                    candidate = index
                    break
                }
            }
        }
        withTableName(statement, lexer, keyspace: keyspace, candidate: candidate) { table in
            log(action: statement.action, table: table, allowed: allowed)
        }
    }

    func logStored(_ stored: StoredStatement, allowed: Bool) {
        guard connection.logsAccess else { return }
        stored.table.withUnsafeBytes { log(action: stored.action, table: $0, allowed: allowed) }
    }

    private func log(action: QueryAction, table: UnsafeRawBufferPointer, allowed: Bool) {
        let name = action.name
        let actionText = LogText(decoding: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        connection.log(allowed ? .request : .denied,
                       .generic(proto: Self.name, fields: L7Fields(("query_action", actionText),
                                                                   ("query_table", LogText(decoding: table)))))
    }

    func logUnclassified(_ text: UnsafeRawBufferPointer, allowed: Bool) {
        guard connection.logsAccess else { return }
        var lexer = CQLLexer(text)
        tableScratch.removeAll(keepingCapacity: true)
        if let first = lexer.next(), first.kind == .word { lexer.appendIdentifier(first, to: &tableScratch) }
        tableScratch.withUnsafeBytes { logUnclassifiedWord($0, allowed: allowed) }
    }

    /// An unclassified statement is logged by its first word, without a table.
    func logUnclassifiedWord(_ word: UnsafeRawBufferPointer, allowed: Bool) {
        connection.log(allowed ? .request : .denied,
                       .generic(proto: Self.name, fields: L7Fields(("query_action", LogText(decoding: word)),
                                                                   ("query_table", LogText("")))))
    }

    static func leadingWord(_ text: UnsafeRawBufferPointer) -> [UInt8] {
        var lexer = CQLLexer(text)
        var word: [UInt8] = []
        if let first = lexer.next(), first.kind == .word { lexer.appendIdentifier(first, to: &word) }
        return word
    }
}
