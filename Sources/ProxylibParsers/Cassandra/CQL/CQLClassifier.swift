/// Classifies CQL query text into the statements a policy checks, reading tokens (`CQLLexer`), never raw
/// words: the table is the one the statement's grammar names (after `FROM`, `INTO`, `UPDATE`, `TABLE`, …), so
/// a string literal, a quoted identifier or a comment can never decide it.
///
/// Anything it cannot classify with certainty — an unknown statement, a second statement after `;`, a second
/// `FROM`, a name that is not an identifier — is `unclassified`, which only a rule without conditions allows.
struct CQLClassifier {
    private var lexer: CQLLexer
    private var lookahead: CQLToken?

    private init(_ text: UnsafeRawBufferPointer) {
        lexer = CQLLexer(text)
        lookahead = lexer.next()
    }

    /// Classifies `text`, calling `body` for each statement (once for a plain statement, once per statement
    /// of a batch). When the answer is `.unclassified`, what `body` saw must be discarded.
    static func classify(_ text: UnsafeRawBufferPointer,
                         _ body: (CQLStatement, CQLLexer) -> Void) -> CQLQueryKind {
        var classifier = CQLClassifier(text)
        return classifier.run(body)
    }

    private mutating func run(_ body: (CQLStatement, CQLLexer) -> Void) -> CQLQueryKind {
        guard let first = take(), first.kind == .word else { return .unclassified }
        if lexer.isKeyword(first, "use") {
            guard let keyspace = take(), Self.isIdentifier(keyspace), endsHere() else { return .unclassified }
            return .use(keyspace)
        }
        if lexer.isKeyword(first, "begin") {
            return batch(body)
        }
        guard let statement = statement(startingWith: first, inBatch: false), endsHere() else {
            return .unclassified
        }
        body(statement, lexer)
        return .statements(count: 1)
    }

    // MARK: Batches

    /// `BEGIN [UNLOGGED | COUNTER] BATCH [USING …] (INSERT | UPDATE | DELETE …)* APPLY BATCH`.
    private mutating func batch(_ body: (CQLStatement, CQLLexer) -> Void) -> CQLQueryKind {
        if lexer.isKeyword(lookahead, "unlogged") || lexer.isKeyword(lookahead, "counter") { _ = take() }
        guard lexer.isKeyword(take(), "batch") else { return .unclassified }
        if lexer.isKeyword(lookahead, "using") {
            _ = take()
            guard lexer.isKeyword(take(), "timestamp"), take()?.kind == .number else { return .unclassified }
        }
        var count = 0
        while let token = take() {
            if lexer.isKeyword(token, "apply") {
                guard lexer.isKeyword(take(), "batch"), endsHere() else { return .unclassified }
                return .statements(count: count)
            }
            guard isBatchStatementStart(token), let statement = statement(startingWith: token, inBatch: true) else {
                return .unclassified
            }
            body(statement, lexer)
            count += 1
        }
        return .unclassified
    }

    private func isBatchStatementStart(_ token: CQLToken) -> Bool {
        lexer.isKeyword(token, "insert") || lexer.isKeyword(token, "update") || lexer.isKeyword(token, "delete")
    }

    /// Skips the rest of a statement inside a batch: up to the next statement, `APPLY`, or past a `;`.
    /// False when a second `FROM` shows up (only DELETE has one, at most).
    private mutating func skipBatchStatementRest(fromSeen: Bool) -> Bool {
        var sawFrom = fromSeen
        while let token = lookahead {
            if isBatchStatementStart(token) || lexer.isKeyword(token, "apply") { return true }
            _ = take()
            if lexer.isSymbol(token, UInt8(ascii: ";")) { return true }
            if lexer.isKeyword(token, "from") {
                if sawFrom { return false }
                sawFrom = true
            }
        }
        return true
    }

    // MARK: Statements

    private mutating func statement(startingWith first: CQLToken, inBatch: Bool) -> CQLStatement? {
        if lexer.isKeyword(first, "select") { return fromStatement(.select, inBatch: inBatch) }
        if lexer.isKeyword(first, "delete") { return fromStatement(.delete, inBatch: inBatch) }
        if lexer.isKeyword(first, "insert") {
            guard lexer.isKeyword(take(), "into"), let name = name() else { return nil }
            return finish(CQLStatement(action: .insert, name: name), inBatch: inBatch)
        }
        if lexer.isKeyword(first, "update") {
            guard let name = name() else { return nil }
            return finish(CQLStatement(action: .update, name: name), inBatch: inBatch)
        }
        if inBatch { return nil }
        if lexer.isKeyword(first, "create") { return create() }
        if lexer.isKeyword(first, "alter") { return alter() }
        if lexer.isKeyword(first, "drop") { return drop() }
        if lexer.isKeyword(first, "truncate") {
            if lexer.isKeyword(lookahead, "table") || lexer.isKeyword(lookahead, "columnfamily") { _ = take() }
            return named(.truncateTable)
        }
        if lexer.isKeyword(first, "grant") { return grantOrRevoke(role: .grantRole, permission: .grantPermission) }
        if lexer.isKeyword(first, "revoke") { return grantOrRevoke(role: .revokeRole, permission: .revokePermission) }
        if lexer.isKeyword(first, "list") {
            let what = take()
            if lexer.isKeyword(what, "roles") { return rest(.listRoles) }
            if lexer.isKeyword(what, "users") { return rest(.listUsers) }
            return isPermission(what) ? rest(.listPermissions) : nil
        }
        return nil
    }

    /// SELECT and DELETE: the table follows the one `FROM`.
    private mutating func fromStatement(_ action: QueryAction, inBatch: Bool) -> CQLStatement? {
        while let token = lookahead {
            if inBatch && (isBatchStatementStart(token) || lexer.isKeyword(token, "apply")) { return nil }
            _ = take()
            if lexer.isSymbol(token, UInt8(ascii: ";")) { return nil }
            if lexer.isKeyword(token, "from") {
                guard let name = name() else { return nil }
                let statement = CQLStatement(action: action, name: name)
                if inBatch { return skipBatchStatementRest(fromSeen: true) ? statement : nil }
                return noSecondFrom() ? statement : nil
            }
        }
        return nil
    }

    private mutating func finish(_ statement: CQLStatement, inBatch: Bool) -> CQLStatement? {
        if inBatch { return skipBatchStatementRest(fromSeen: false) ? statement : nil }
        return noSecondFrom() ? statement : nil
    }

    private mutating func create() -> CQLStatement? {
        let what = take()
        if lexer.isKeyword(what, "table") || lexer.isKeyword(what, "columnfamily") {
            skipIf(exists: true)
            return named(.createTable)
        }
        if lexer.isKeyword(what, "keyspace") || lexer.isKeyword(what, "schema") {
            skipIf(exists: true)
            return keyspaceNamed(.createKeyspace)
        }
        if lexer.isKeyword(what, "index") { return rest(.createIndex) }
        if lexer.isKeyword(what, "custom") { return lexer.isKeyword(take(), "index") ? rest(.createIndex) : nil }
        if lexer.isKeyword(what, "materialized") {
            // `… AS SELECT … FROM base …`: the one FROM of its query is part of the statement.
            guard lexer.isKeyword(take(), "view") else { return nil }
            return rest(.createMaterializedView, fromsAllowed: 1)
        }
        if lexer.isKeyword(what, "role") { return rest(.createRole) }
        if lexer.isKeyword(what, "user") { return rest(.createUser) }
        if lexer.isKeyword(what, "type") { return rest(.createType) }
        if lexer.isKeyword(what, "trigger") { return rest(.createTrigger) }
        var kind = what
        if lexer.isKeyword(what, "or") {
            guard lexer.isKeyword(take(), "replace") else { return nil }
            kind = take()
        }
        if lexer.isKeyword(kind, "function") { return rest(.createFunction) }
        if lexer.isKeyword(kind, "aggregate") { return rest(.createAggregate) }
        return nil
    }

    private mutating func alter() -> CQLStatement? {
        let what = take()
        if lexer.isKeyword(what, "table") || lexer.isKeyword(what, "columnfamily") { return named(.alterTable) }
        if lexer.isKeyword(what, "keyspace") || lexer.isKeyword(what, "schema") { return keyspaceNamed(.alterKeyspace) }
        if lexer.isKeyword(what, "role") { return rest(.alterRole) }
        if lexer.isKeyword(what, "user") { return rest(.alterUser) }
        if lexer.isKeyword(what, "type") { return rest(.alterType) }
        return nil
    }

    private mutating func drop() -> CQLStatement? {
        let what = take()
        if lexer.isKeyword(what, "table") || lexer.isKeyword(what, "columnfamily") {
            skipIf(exists: false)
            return named(.dropTable)
        }
        if lexer.isKeyword(what, "keyspace") || lexer.isKeyword(what, "schema") {
            skipIf(exists: false)
            return keyspaceNamed(.dropKeyspace)
        }
        if lexer.isKeyword(what, "index") { return rest(.dropIndex) }
        if lexer.isKeyword(what, "materialized") {
            return lexer.isKeyword(take(), "view") ? rest(.dropMaterializedView) : nil
        }
        if lexer.isKeyword(what, "role") { return rest(.dropRole) }
        if lexer.isKeyword(what, "user") { return rest(.dropUser) }
        if lexer.isKeyword(what, "function") { return rest(.dropFunction) }
        if lexer.isKeyword(what, "aggregate") { return rest(.dropAggregate) }
        if lexer.isKeyword(what, "type") { return rest(.dropType) }
        if lexer.isKeyword(what, "trigger") { return rest(.dropTrigger) }
        return nil
    }

    /// GRANT/REVOKE a permission (`GRANT SELECT ON …`) or a role (`GRANT role TO role`).
    private mutating func grantOrRevoke(role: QueryAction, permission: QueryAction) -> CQLStatement? {
        guard let next = lookahead else { return nil }
        // REVOKE … FROM role: that FROM is the statement's own.
        return rest(isPermission(next) ? permission : role, fromsAllowed: 1)
    }

    private func isPermission(_ token: CQLToken?) -> Bool {
        for keyword: StaticString in ["all", "alter", "authorize", "create", "describe", "drop", "execute",
                                      "modify", "select", "unmask", "select_masked"]
        where lexer.isKeyword(token, keyword) {
            return true
        }
        return false
    }

    /// A statement without a table: the rest may be anything but a second statement.
    private mutating func rest(_ action: QueryAction, fromsAllowed: Int = 0) -> CQLStatement? {
        noSecondFrom(fromsAllowed: fromsAllowed) ? CQLStatement(action: action, name: nil) : nil
    }

    private mutating func named(_ action: QueryAction) -> CQLStatement? {
        guard let name = name() else { return nil }
        return noSecondFrom() ? CQLStatement(action: action, name: name) : nil
    }

    /// A keyspace statement: the keyspace is one identifier, carried as the name.
    private mutating func keyspaceNamed(_ action: QueryAction) -> CQLStatement? {
        guard let keyspace = take(), Self.isIdentifier(keyspace) else { return nil }
        return noSecondFrom() ? CQLStatement(action: action, name: CQLName(keyspace: nil, name: keyspace)) : nil
    }

    // MARK: Pieces

    /// `IF NOT EXISTS` (create) or `IF EXISTS` (drop), when present.
    private mutating func skipIf(exists notExists: Bool) {
        guard lexer.isKeyword(lookahead, "if") else { return }
        _ = take()
        if notExists, lexer.isKeyword(lookahead, "not") { _ = take() }
        if lexer.isKeyword(lookahead, "exists") { _ = take() }
    }

    /// `name` or `keyspace.name`.
    private mutating func name() -> CQLName? {
        guard let first = take(), Self.isIdentifier(first) else { return nil }
        guard lexer.isSymbol(lookahead, UInt8(ascii: ".")) else { return CQLName(keyspace: nil, name: first) }
        _ = take()
        guard let second = take(), Self.isIdentifier(second) else { return nil }
        return CQLName(keyspace: first, name: second)
    }

    /// Consumes the rest of the statement: true when it holds no further `FROM` (beyond `fromsAllowed`) and no
    /// second statement (a `;` may only end the text).
    private mutating func noSecondFrom(fromsAllowed: Int = 0) -> Bool {
        var froms = fromsAllowed
        while let token = take() {
            if lexer.isKeyword(token, "from") {
                if froms == 0 { return false }
                froms -= 1
            }
            if lexer.isSymbol(token, UInt8(ascii: ";")) { return endsHere() }
        }
        return !lexer.failed
    }

    /// Only `;` (any number) and the end of the text follow.
    private mutating func endsHere() -> Bool {
        while let token = take() {
            guard lexer.isSymbol(token, UInt8(ascii: ";")) else { return false }
        }
        return !lexer.failed
    }

    private mutating func take() -> CQLToken? {
        let token = lookahead
        lookahead = lexer.next()
        return token
    }

    private static func isIdentifier(_ token: CQLToken) -> Bool {
        token.kind == .word || token.kind == .quotedIdentifier
    }
}
