import Testing
@testable import ProxylibParsers

/// Tricky statements and what each must yield: the action and the table (`keyspace.table`, with `ks` as the
/// connection's keyspace for unqualified names), or `nil` for a statement that must not be classified.
@Suite struct CQLClassifierTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let cql: String
        /// (action, table) per statement; empty: unclassified. `use:` cases hold the keyspace as the table.
        let expected: [(String, String)]
        var testDescription: String { cql }
    }

    static func c(_ cql: String, _ expected: (String, String)...) -> Case { Case(cql: cql, expected: expected) }

    static let cases: [Case] = [
        // Upstream's own queries.
        c("SELECT cluster_name, data_center FROM system.local WHERE key='local'", ("select", "system.local")),
        c("CREATE TABLE db4.t1 (f1 varchar, f2 timeuuid, PRIMARY KEY ((f1), f2))", ("create-table", "db4.t1")),
        c("INSERT INTO db4.t1 (f1, f2, f3) values ('dan', now(), 'Cilium!')", ("insert", "db4.t1")),
        c("UPDATE db4.t1 SET f1 = 'donald' where f2 in (1,2,3)", ("update", "db4.t1")),
        c("DROP TABLE db4.t1", ("drop-table", "db4.t1")),
        c("CREATE TABLE IF NOT EXISTS db4.t1 (f1 varchar, PRIMARY KEY(f1))", ("create-table", "db4.t1")),
        // Upstream defects: TRUNCATE's table; the last `from` inside a literal; no spaces; a trailing FROM.
        c("TRUNCATE db4.t1", ("truncate-table", "db4.t1")),
        c("TRUNCATE TABLE db4.t1;", ("truncate-table", "db4.t1")),
        c("truncate columnfamily t1", ("truncate-table", "ks.t1")),
        c("SELECT * FROM secret.t WHERE c = 'x from public.t'", ("select", "secret.t")),
        c("SELECT*FROM ks2.t", ("select", "ks2.t")),
        c("select*from\"Ks\".\"T\"where a=1", ("select", "Ks.T")),
        c("SELECT * FROM ks . t", ("select", "ks.t")),
        c("SELECT * FROM ks./**/t", ("select", "ks.t")),
        c("SELECT * FROM Ks.t", ("select", "ks.t")),
        c("SELECT * FROM"),
        c("SELECT a FROM t WHERE b = 1 FROM u"),
        // Comments and literals hide keywords; they do not end the statement.
        c("SELECT /* FROM public.t */ * FROM secret.t", ("select", "secret.t")),
        c("SELECT * -- FROM public.t\nFROM secret.t", ("select", "secret.t")),
        c("SELECT * // FROM public.t\nFROM secret.t", ("select", "secret.t")),
        c("/* leading */ SELECT * FROM a.b", ("select", "a.b")),
        c("SELECT * FROM a.b /* unterminated"),
        c("SELECT * FROM a.b WHERE c = 'unterminated"),
        c("SELECT \"from\" FROM a.b", ("select", "a.b")),
        c("SELECT $$ FROM x.y $$ FROM a.b", ("select", "a.b")),
        c("INSERT INTO t (a) VALUES ('it''s; DROP TABLE x')", ("insert", "ks.t")),
        // Quoted identifiers keep their case (and a doubled quote); unquoted ones fold.
        c("SELECT * FROM \"MyKs\".\"My\"\"Table\"", ("select", "MyKs.My\"Table")),
        c("SELECT * FROM MyKs.MyTable", ("select", "myks.mytable")),
        c("select * from Users", ("select", "ks.users")),
        c("SELECT JSON a FROM t", ("select", "ks.t")),
        c("DELETE FROM ks1.t WHERE a = 1", ("delete", "ks1.t")),
        c("DELETE a, b['x'] FROM t USING TIMESTAMP 5 WHERE k = 0", ("delete", "ks.t")),
        c("INSERT INTO t JSON '{\"a\": \"FROM x\"}'", ("insert", "ks.t")),
        c("UPDATE t USING TTL 5 SET a = 'FROM' WHERE k = 1 IF EXISTS", ("update", "ks.t")),
        // Several statements in one QUERY (the server refuses them too): never classified.
        c("SELECT * FROM a.b; DROP TABLE a.c"),
        c("SELECT * FROM a.b;;", ("select", "a.b")),
        c("SELECT * FROM a.b ;\n -- done", ("select", "a.b")),
        // Schema and keyspace statements.
        c("CREATE KEYSPACE IF NOT EXISTS shop WITH replication = {'class': 'SimpleStrategy'}", ("create-keyspace", "shop")),
        c("ALTER KEYSPACE shop WITH durable_writes = false", ("alter-keyspace", "shop")),
        c("DROP KEYSPACE IF EXISTS shop", ("drop-keyspace", "shop")),
        c("DROP SCHEMA shop", ("drop-keyspace", "shop")),
        c("ALTER TABLE shop.orders ADD c int", ("alter-table", "shop.orders")),
        c("DROP TABLE IF EXISTS orders", ("drop-table", "ks.orders")),
        c("CREATE COLUMNFAMILY x (a int PRIMARY KEY)", ("create-table", "ks.x")),
        c("CREATE INDEX ON shop.orders (c)", ("create-index", "")),
        c("CREATE CUSTOM INDEX i ON t (c) USING 'x'", ("create-index", "")),
        c("DROP INDEX shop.i", ("drop-index", "")),
        c("CREATE MATERIALIZED VIEW shop.v AS SELECT a FROM shop.orders WHERE a IS NOT NULL PRIMARY KEY (a)",
          ("create-materialized-view", "")),
        c("DROP MATERIALIZED VIEW shop.v", ("drop-materialized-view", "")),
        c("ALTER MATERIALIZED VIEW shop.v WITH comment = 'x'"),
        c("CREATE ROLE bob WITH PASSWORD = 'x' AND LOGIN = true", ("create-role", "")),
        c("ALTER ROLE bob WITH PASSWORD = 'y'", ("alter-role", "")),
        c("DROP ROLE bob", ("drop-role", "")),
        c("GRANT admin TO bob", ("grant-role", "")),
        c("GRANT SELECT ON ALL KEYSPACES TO bob", ("grant-permission", "")),
        c("REVOKE MODIFY ON KEYSPACE shop FROM bob", ("revoke-permission", "")),
        c("REVOKE admin FROM bob", ("revoke-role", "")),
        c("LIST ROLES", ("list-roles", "")),
        c("LIST USERS", ("list-users", "")),
        c("LIST ALL PERMISSIONS OF bob", ("list-permissions", "")),
        c("CREATE USER alice WITH PASSWORD 'x' SUPERUSER", ("create-user", "")),
        c("CREATE OR REPLACE FUNCTION f (a int) CALLED ON NULL INPUT RETURNS int LANGUAGE java AS $$ return a; $$",
          ("create-function", "")),
        c("CREATE AGGREGATE a (int) SFUNC f STYPE int", ("create-aggregate", "")),
        c("CREATE TYPE address (street text)", ("create-type", "")),
        c("CREATE TRIGGER t ON x USING 'c'", ("create-trigger", "")),
        // USE: the keyspace, folded or quoted.
        c("USE db5", ("use:", "db5")),
        c("use \"Db5\";", ("use:", "Db5")),
        c("USE"),
        c("USE a b"),
        // Batches in a QUERY: every statement.
        c("BEGIN BATCH INSERT INTO a.t (k) VALUES (1); UPDATE b.u SET v = 2 WHERE k = 1; DELETE FROM c.w WHERE k = 3; APPLY BATCH",
          ("insert", "a.t"), ("update", "b.u"), ("delete", "c.w")),
        c("BEGIN UNLOGGED BATCH USING TIMESTAMP 5 INSERT INTO t (k) VALUES (1) INSERT INTO u (k) VALUES (2) APPLY BATCH;",
          ("insert", "ks.t"), ("insert", "ks.u")),
        c("BEGIN BATCH SELECT * FROM a.t APPLY BATCH"),
        c("BEGIN BATCH INSERT INTO a.t (k) VALUES (1)"),
        c("BEGIN BATCH DELETE FROM a.t FROM b.u WHERE k = 1 APPLY BATCH"),
        // Statements this parser does not know, and garbage.
        c("DESCRIBE KEYSPACES"),
        c(""),
        c("   "),
        c("'SELECT * FROM a.b'"),
        c("SELECT * FROM 'a'.b"),
        c("SELECT * FROM a."),
        c("\u{00e9}SELECT * FROM a.b"),
    ]

    @Test(arguments: cases)
    func classify(_ testCase: Case) {
        let text = Array(testCase.cql.utf8)
        var statements: [(String, String)] = []
        let kind = text.withUnsafeBytes { bytes in
            let kind = CQLClassifier.classify(bytes) { statement, lexer in
                var table: [UInt8] = []
                if let name = statement.name {
                    let keyspace: [UInt8] = statement.action.tableKind == .table ? Array("ks".utf8) : []
                    keyspace.withUnsafeBytes { lexer.appendTableName(name, defaultKeyspace: $0, to: &table) }
                    // The zero-copy spelling, where the query has one, is the same text.
                    if name.isQualified || statement.action.tableKind == .keyspace, let spelled = lexer.canonicalSpelling(of: name) {
                        #expect(Array(spelled) == table)
                    }
                }
                statements.append((statement.action.nameString, String(decoding: table, as: UTF8.self)))
            }
            if case .use(let token) = kind {
                var keyspace: [UInt8] = []
                CQLLexer(bytes).appendIdentifier(token, to: &keyspace)
                statements = [("use:", String(decoding: keyspace, as: UTF8.self))]
            }
            return kind
        }
        if testCase.expected.isEmpty {
            #expect(kind == .unclassified)
        } else {
            #expect(kind != .unclassified)
            #expect(statements.map { $0.0 } == testCase.expected.map { $0.0 })
            #expect(statements.map { $0.1 } == testCase.expected.map { $0.1 })
        }
    }
}
