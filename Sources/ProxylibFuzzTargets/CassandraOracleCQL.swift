/// The CQL half of the `datapath-cassandra` oracle: its own simple reading of a query text, from the CQL
/// grammar, without any parser code. Comments and string literals are dropped, the statement keyword is the
/// first word, and the table is the name after `FROM` (SELECT, DELETE), `INTO`, `UPDATE`, `TABLE` /
/// `COLUMNFAMILY`, `TRUNCATE`, or the keyspace after `KEYSPACE` / `SCHEMA`. Whatever does not fit these
/// shapes exactly is `uncertain`: the oracle then only requires what holds for any statement.
enum OracleCQL {
    enum Token: Equatable {
        /// An unquoted word, lower-cased (keywords and identifiers).
        case word([UInt8])
        /// A double-quoted identifier, unescaped, case kept.
        case quoted([UInt8])
        /// A string literal or a number (their content never matters).
        case literal
        case symbol(UInt8)

        var identifier: [UInt8]? {
            switch self {
            case .word(let name), .quoted(let name): return name
            default: return nil
            }
        }

        func isWord(_ keyword: String) -> Bool { self == .word(Array(keyword.utf8)) }
    }

    /// The tokens of `text`, nil when a literal, quoted identifier or block comment does not end.
    static func tokens(_ text: [UInt8]) -> [Token]? {
        var tokens: [Token] = []
        var at = 0
        let count = text.count
        func byte(_ index: Int) -> UInt8? { index < count ? text[index] : nil }
        func isLetter(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
        func isDigit(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) }
        while at < count {
            let b = text[at]
            let next = byte(at + 1)
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0C {
                at += 1
            } else if (b == UInt8(ascii: "-") && next == UInt8(ascii: "-")) || (b == UInt8(ascii: "/") && next == UInt8(ascii: "/")) {
                while at < count && text[at] != 0x0A { at += 1 }
            } else if b == UInt8(ascii: "/") && next == UInt8(ascii: "*") {
                guard let close = find([UInt8(ascii: "*"), UInt8(ascii: "/")], in: text, from: at + 2) else { return nil }
                at = close + 2
            } else if b == UInt8(ascii: "$") && next == UInt8(ascii: "$") {
                guard let close = find([UInt8(ascii: "$"), UInt8(ascii: "$")], in: text, from: at + 2) else { return nil }
                tokens.append(.literal)
                at = close + 2
            } else if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
                // Quoted: a doubled quote stands for one.
                var inner: [UInt8] = []
                var index = at + 1
                var closed = false
                while index < count {
                    if text[index] == b {
                        if byte(index + 1) == b {
                            inner.append(b)
                            index += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    inner.append(text[index])
                    index += 1
                }
                guard closed else { return nil }
                tokens.append(b == UInt8(ascii: "'") ? .literal : .quoted(inner))
                at = index + 1
            } else if isLetter(b) {
                var word: [UInt8] = []
                while at < count, isLetter(text[at]) || isDigit(text[at]) || text[at] == UInt8(ascii: "_") {
                    word.append(CQLWire.lower(text[at]))
                    at += 1
                }
                tokens.append(.word(word))
            } else if isDigit(b) {
                // Numbers, UUIDs, blobs, durations, exponents: one value, however it is spelled.
                while at < count, isLetter(text[at]) || isDigit(text[at])
                        || [UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "+")].contains(text[at]) {
                    at += 1
                }
                tokens.append(.literal)
            } else {
                tokens.append(.symbol(b))
                at += 1
            }
        }
        return tokens
    }

    static func find(_ needle: [UInt8], in text: [UInt8], from: Int) -> Int? {
        guard text.count >= needle.count, from <= text.count - needle.count else { return nil }
        for index in from...(text.count - needle.count) where text[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }

    enum Action: Equatable {
        case select, insert, update, delete, createTable, alterTable, dropTable, truncate
        case createKeyspace, alterKeyspace, dropKeyspace

        var onKeyspace: Bool { self == .createKeyspace || self == .alterKeyspace || self == .dropKeyspace }
    }

    /// A statement the oracle is sure of: its action and the name it acts on (`keyspace` nil: unqualified).
    struct Statement: Equatable {
        var action: Action
        var keyspace: [UInt8]?
        var name: [UInt8]
    }

    enum Meaning: Equatable {
        case use([UInt8])
        /// One statement, or those of a `BEGIN … APPLY BATCH` (possibly none).
        case statements([Statement])
        case uncertain
    }

    static let semicolon = Token.symbol(UInt8(ascii: ";"))

    static func meaning(of text: [UInt8]) -> Meaning {
        guard var tokens = tokens(text) else { return .uncertain }
        while tokens.last == semicolon { tokens.removeLast() }
        guard let first = tokens.first else { return .uncertain }
        if first.isWord("use") {
            guard tokens.count == 2, let keyspace = tokens[1].identifier else { return .uncertain }
            return .use(keyspace)
        }
        if first.isWord("begin") { return batch(Array(tokens.dropFirst())) }
        guard !tokens.contains(semicolon), let statement = statement(tokens[...]) else { return .uncertain }
        return .statements([statement])
    }

    /// `[UNLOGGED | COUNTER] BATCH … (INSERT | UPDATE | DELETE …)* APPLY BATCH`; anything before the first
    /// statement (USING TIMESTAMP …) is not looked at.
    static func batch(_ tokens: [Token]) -> Meaning {
        var rest = tokens[...]
        if let kind = rest.first, kind.isWord("unlogged") || kind.isWord("counter") { rest = rest.dropFirst() }
        guard rest.first?.isWord("batch") == true else { return .uncertain }
        rest = rest.dropFirst()
        guard let apply = rest.firstIndex(where: { $0.isWord("apply") }), rest[(apply + 1)...].elementsEqual([.word(Array("batch".utf8))]) else {
            return .uncertain
        }
        let body = rest[..<apply]
        let starts = body.indices.filter { body[$0].isWord("insert") || body[$0].isWord("update") || body[$0].isWord("delete") }
        var statements: [Statement] = []
        for (n, start) in starts.enumerated() {
            var part = body[start..<(n + 1 < starts.count ? starts[n + 1] : body.endIndex)]
            if part.last == semicolon { part = part.dropLast() }
            guard !part.contains(semicolon), let statement = statement(part) else { return .uncertain }
            statements.append(statement)
        }
        return .statements(statements)
    }

    /// One statement without its `;`.
    static func statement(_ tokens: ArraySlice<Token>) -> Statement? {
        let t = Array(tokens)
        guard let first = t.first else { return nil }
        let froms = t.indices.filter { t[$0].isWord("from") }
        func named(_ action: Action, at index: Int) -> Statement? {
            guard index < t.count, let first = t[index].identifier else { return nil }
            if index + 1 < t.count, t[index + 1] == .symbol(UInt8(ascii: ".")) {
                guard index + 2 < t.count, let second = t[index + 2].identifier else { return nil }
                return Statement(action: action, keyspace: first, name: second)
            }
            return Statement(action: action, keyspace: nil, name: first)
        }
        func keyspaceNamed(_ action: Action, at index: Int) -> Statement? {
            guard index < t.count, let keyspace = t[index].identifier else { return nil }
            return Statement(action: action, keyspace: nil, name: keyspace)
        }
        /// Skips `IF NOT EXISTS` (create) or `IF EXISTS` (drop) at `index`; nil when an `IF` is not one of them.
        func afterIf(_ index: Int, not: Bool) -> Int? {
            guard index < t.count, t[index].isWord("if") else { return index }
            let words = not ? ["not", "exists"] : ["exists"]
            for (offset, word) in words.enumerated() where !(index + 1 + offset < t.count && t[index + 1 + offset].isWord(word)) {
                return nil
            }
            return index + 1 + words.count
        }
        func isTableWord(_ index: Int) -> Bool { index < t.count && (t[index].isWord("table") || t[index].isWord("columnfamily")) }
        func isKeyspaceWord(_ index: Int) -> Bool { index < t.count && (t[index].isWord("keyspace") || t[index].isWord("schema")) }

        if first.isWord("select") || first.isWord("delete") {
            // The table follows FROM; CQL has no subqueries, so a second FROM makes the statement unreadable.
            guard froms.count == 1 else { return nil }
            return named(first.isWord("select") ? .select : .delete, at: froms[0] + 1)
        }
        // The other statements name their table at a fixed place; FROM (reserved) can only make them a syntax
        // error, which the server refuses whole.
        if first.isWord("insert") {
            guard t.count > 1, t[1].isWord("into") else { return nil }
            return named(.insert, at: 2)
        }
        if first.isWord("update") { return named(.update, at: 1) }
        if first.isWord("truncate") { return named(.truncate, at: isTableWord(1) ? 2 : 1) }
        if first.isWord("create") || first.isWord("drop") {
            let create = first.isWord("create")
            if isTableWord(1) {
                guard let at = afterIf(2, not: create) else { return nil }
                return named(create ? .createTable : .dropTable, at: at)
            }
            if isKeyspaceWord(1) {
                guard let at = afterIf(2, not: create) else { return nil }
                return keyspaceNamed(create ? .createKeyspace : .dropKeyspace, at: at)
            }
            return nil
        }
        if first.isWord("alter") {
            if isTableWord(1) { return named(.alterTable, at: 2) }
            if isKeyspaceWord(1) { return keyspaceNamed(.alterKeyspace, at: 2) }
        }
        return nil
    }
}
