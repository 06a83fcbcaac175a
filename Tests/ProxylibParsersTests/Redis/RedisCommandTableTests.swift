import Foundation
import Testing
@testable import ProxylibParsers

/// The generated command table (Sources/ProxylibParsers/Redis/Commands/RedisCommandTable.swift, from redis 7.4.1's
/// src/commands/*.json by Tools/redis-commands/generate.py): its structure (order, groups, ranges), a handful of
/// facts checked by hand against redis's documentation, and agreement with the JSON dump the same generator run
/// wrote (Tests/redis/vectors/command-table.json, which Tests/redis/test_command_table.py compares with a live
/// redis-server), read here through name maps of this file's own rather than the generator's.
@Suite struct RedisCommandTableTests {
    typealias Table = RedisCommandTable

    static func bytes(_ s: StaticString) -> [UInt8] { s.withUTF8Buffer { Array($0) } }
    static func text(_ s: StaticString) -> String { s.description }

    static func command(_ name: String) -> RedisCommandSpec? {
        Table.commands.first { text($0.name) == name }
    }

    static func subcommands(of container: RedisCommandSpec) -> ArraySlice<RedisCommandSpec> {
        let start = Int(container.subcommandStart)
        return Table.subcommands[start ..< start + Int(container.subcommandCount)]
    }

    static func subcommand(_ container: String, _ name: String) -> RedisCommandSpec? {
        guard let parent = command(container) else { return nil }
        return subcommands(of: parent).first { text($0.name) == name }
    }

    static func keySpecs(_ spec: RedisCommandSpec) -> ArraySlice<RedisKeySpec> {
        let start = Int(spec.keySpecStart)
        return Table.keySpecs[start ..< start + Int(spec.keySpecCount)]
    }

    // MARK: Describing specs (the enums are not Equatable; tests compare descriptions)

    static let keySpecFlagNames: [(String, RedisKeySpecFlags)] = [
        ("RO", .readOnly), ("RW", .readWrite), ("OW", .overwrite), ("RM", .remove), ("ACCESS", .access),
        ("UPDATE", .update), ("INSERT", .insert), ("DELETE", .delete), ("NOT_KEY", .notKey),
        ("INCOMPLETE", .incomplete), ("VARIABLE_FLAGS", .variableFlags),
    ]

    static let commandFlagNames: [String: RedisCommandFlags] = [
        "WRITE": .write, "READONLY": .readOnly, "DENYOOM": .denyOOM, "ADMIN": .admin, "PUBSUB": .pubsub,
        "NOSCRIPT": .noScript, "BLOCKING": .blocking, "LOADING": .loading, "STALE": .stale,
        "SKIP_MONITOR": .skipMonitor, "SKIP_SLOWLOG": .skipSlowlog, "FAST": .fast, "NO_AUTH": .noAuth,
        "MAY_REPLICATE": .mayReplicate, "SENTINEL": .sentinel, "ONLY_SENTINEL": .onlySentinel,
        "NO_MANDATORY_KEYS": .noMandatoryKeys, "PROTECTED": .protected, "NO_ASYNC_LOADING": .noAsyncLoading,
        "NO_MULTI": .noMulti, "ALLOW_BUSY": .allowBusy, "TOUCHES_ARBITRARY_KEYS": .touchesArbitraryKeys,
        "ASKING": .asking,
    ]

    /// `index(1) range(0,1,0) RO ACCESS`.
    static func describe(_ spec: RedisKeySpec) -> String {
        let search: String
        switch spec.search {
        case .index(let position): search = "index(\(position))"
        case .keyword(let keyword, let startFrom): search = "keyword(\(keyword),\(startFrom))"
        case .unknown: search = "unknown"
        }
        let range: String
        switch spec.range {
        case .range(let lastKey, let step, let limit): range = "range(\(lastKey),\(step),\(limit))"
        case .keyNum(let index, let firstKey, let step): range = "keynum(\(index),\(firstKey),\(step))"
        case .unknown: range = "unknown"
        }
        let flags = keySpecFlagNames.filter { spec.flags.contains($0.1) }.map(\.0)
        return ([search, range] + flags).joined(separator: " ")
    }

    static func describe(_ specs: ArraySlice<RedisKeySpec>) -> [String] { specs.map(describe) }

    static func categories(_ names: [String]) -> RedisACLCategories {
        var result: RedisACLCategories = []
        for name in names {
            guard let entry = RedisACLCategories.byName.first(where: { $0.name == name }) else { continue }
            result.insert(entry.category)
        }
        return result
    }

    // MARK: Structure

    @Test func commandsAreStrictlySortedUniqueLowercaseAndTopLevel() {
        #expect(!Table.commands.isEmpty)
        for (index, spec) in Table.commands.enumerated() {
            let name = Self.bytes(spec.name)
            #expect(!name.isEmpty)
            #expect(!name.contains { (0x41...0x5A).contains($0) }, "\(Self.text(spec.name)) is not lowercase")
            #expect(spec.container == -1)
            #expect(spec.arity != 0)
            if index > 0 {
                let previous = Self.bytes(Table.commands[index - 1].name)
                #expect(previous.lexicographicallyPrecedes(name),
                        "\(Self.text(Table.commands[index - 1].name)) !< \(Self.text(spec.name))")
            }
        }
    }

    @Test func subcommandGroupsAreContiguousSortedUniqueAndPointBack() {
        var next = 0
        for (index, container) in Table.commands.enumerated() where container.subcommandCount > 0 {
            #expect(Int(container.subcommandStart) == next, "\(Self.text(container.name)) group out of order")
            next = Int(container.subcommandStart) + Int(container.subcommandCount)
            #expect(next <= Table.subcommands.count)
            guard next <= Table.subcommands.count else { return }
            var previous: [UInt8]?
            for sub in Self.subcommands(of: container) {
                #expect(Int(sub.container) == index)
                #expect(sub.subcommandCount == 0 && sub.subcommandStart == 0)
                #expect(sub.arity != 0)
                let name = Self.bytes(sub.name)
                #expect(!name.contains { (0x41...0x5A).contains($0) || $0 == UInt8(ascii: "|") })
                if let previous {
                    #expect(previous.lexicographicallyPrecedes(name),
                            "\(Self.text(container.name)): \(String(decoding: previous, as: UTF8.self)) !< \(Self.text(sub.name))")
                }
                previous = name
            }
        }
        #expect(next == Table.subcommands.count, "every subcommand belongs to a group")
        for spec in Table.commands where spec.subcommandCount == 0 {
            #expect(spec.subcommandStart == 0)
        }
    }

    @Test func keySpecRunsAreInBoundsAndCoverTheKeySpecsOnce() {
        var owners = [Int](repeating: 0, count: Table.keySpecs.count)
        for spec in Table.commands + Table.subcommands {
            #expect(spec.keySpecCount >= 0 && spec.keySpecStart >= 0)
            if spec.keySpecCount == 0 { #expect(spec.keySpecStart == 0); continue }
            let end = Int(spec.keySpecStart) + Int(spec.keySpecCount)
            #expect(end <= Table.keySpecs.count, "\(Self.text(spec.name)) key specs out of bounds")
            guard end <= Table.keySpecs.count else { continue }
            for i in Int(spec.keySpecStart) ..< end { owners[i] += 1 }
        }
        #expect(owners.allSatisfy { $0 == 1 }, "each key spec belongs to exactly one command")
    }

    @Test func containersHaveNoKeySpecs() {
        let containers = Table.commands.filter { $0.subcommandCount > 0 }
        #expect(containers.count >= 15)
        for container in containers {
            #expect(container.keySpecCount == 0, "\(Self.text(container.name))")
        }
        for name in ["config", "client", "object", "xinfo", "acl", "function", "script", "memory", "cluster",
                     "command", "pubsub", "module", "latency", "slowlog", "xgroup"] {
            #expect((Self.command(name)?.subcommandCount ?? 0) > 0, "\(name) is a container")
        }
    }

    @Test func everyCommandIsSlowOrFastAndNotBoth() {
        for spec in Table.commands + Table.subcommands {
            #expect(spec.categories.contains(.fast) != spec.categories.contains(.slow), "\(Self.text(spec.name))")
        }
    }

    // MARK: Facts

    @Test func get() throws {
        let get = try #require(Self.command("get"))
        #expect(get.arity == 2)
        #expect(get.flags == [.readOnly, .fast])
        #expect(get.categories == [.read, .string, .fast])
        #expect(Self.describe(Self.keySpecs(get)) == ["index(1) range(0,1,0) RO ACCESS"])
    }

    @Test func multiKeyRanges() throws {
        let mset = try #require(Self.command("mset"))
        #expect(Self.describe(Self.keySpecs(mset)) == ["index(1) range(-1,2,0) OW UPDATE"])
        let xread = try #require(Self.command("xread"))
        #expect(Self.describe(Self.keySpecs(xread)) == ["keyword(STREAMS,1) range(-1,1,2) RO ACCESS"])
        #expect(xread.categories.contains(.blocking) && xread.categories.contains(.read))
    }

    @Test func keyNumSpecs() throws {
        let eval = try #require(Self.command("eval"))
        #expect(Self.describe(Self.keySpecs(eval)) == ["index(2) keynum(0,1,1) RW ACCESS UPDATE"])
        // Scripting commands do not get @read from READONLY; EVAL_RO is READONLY and @scripting.
        let evalRO = try #require(Self.command("eval_ro"))
        #expect(evalRO.flags.contains(.readOnly))
        #expect(!evalRO.categories.contains(.read))
        #expect(evalRO.categories.contains(.scripting))
        let zunionstore = try #require(Self.command("zunionstore"))
        #expect(Self.describe(Self.keySpecs(zunionstore)) == [
            "index(1) range(0,1,0) OW UPDATE",
            "index(2) keynum(0,1,1) RO ACCESS",
        ])
    }

    @Test func incompleteUnknownAndNotKeySpecs() throws {
        let migrate = try #require(Self.command("migrate"))
        #expect(Self.keySpecs(migrate).contains { $0.flags.contains(.incomplete) })
        #expect(Self.describe(Self.keySpecs(migrate)).contains("keyword(KEYS,-2) range(-1,1,0) RW ACCESS DELETE INCOMPLETE"))
        let sort = try #require(Self.command("sort"))
        #expect(Self.describe(Self.keySpecs(sort)) == [
            "index(1) range(0,1,0) RO ACCESS",
            "unknown unknown RO ACCESS",
            "unknown unknown OW UPDATE",
        ])
        for name in ["ssubscribe", "spublish", "sunsubscribe"] {
            let spec = try #require(Self.command(name))
            let specs = Self.keySpecs(spec)
            #expect(!specs.isEmpty)
            #expect(specs.allSatisfy { $0.flags == .notKey }, "\(name)")
        }
    }

    @Test func configGetAndFlushall() throws {
        let config = try #require(Self.command("config"))
        #expect(config.keySpecCount == 0)
        let get = try #require(Self.subcommand("config", "get"))
        #expect(Int(get.container) == Table.commands.firstIndex { Self.text($0.name) == "config" })
        #expect(get.arity == -3)
        #expect(get.categories == [.admin, .slow, .dangerous])
        #expect(get.flags.contains(.admin))
        let flushall = try #require(Self.command("flushall"))
        #expect(flushall.categories == [.keyspace, .write, .slow, .dangerous])
    }

    @Test func subcommandWithKeys() throws {
        let encoding = try #require(Self.subcommand("object", "encoding"))
        #expect(Self.describe(Self.keySpecs(encoding)) == ["index(2) range(0,1,0) RO"])
        #expect(Self.subcommand("xgroup", "create") != nil)
        #expect(Self.subcommand("config", "nosuch") == nil)
    }

    // MARK: Agreement with the JSON dump of the same generator run

    struct Dump: Decodable {
        struct Counts: Decodable {
            let commands: Int
            let subcommands: Int
            let keySpecs: Int
        }
        struct Entry: Decodable {
            let name: String
            let arity: Int
            let flags: [String]
            let categories: [String]
            let keySpecs: [KeySpec]
        }
        struct KeySpec: Decodable {
            let flags: [String]
            let beginSearch: Part
            let findKeys: Part
        }
        struct Part: Decodable {
            let type: String
            let spec: Values
        }
        struct Values: Decodable {
            let index: Int?
            let keyword: String?
            let startfrom: Int?
            let lastkey: Int?
            let keystep: Int?
            let limit: Int?
            let keynumidx: Int?
            let firstkey: Int?
        }
        let source: String
        let counts: Counts
        let commands: [Entry]
    }

    static func describe(_ spec: Dump.KeySpec) -> String {
        let b = spec.beginSearch.spec, f = spec.findKeys.spec
        let search: String
        switch spec.beginSearch.type {
        case "index": search = "index(\(b.index ?? -999))"
        case "keyword": search = "keyword(\(b.keyword ?? "?"),\(b.startfrom ?? -999))"
        default: search = spec.beginSearch.type
        }
        let range: String
        switch spec.findKeys.type {
        case "range": range = "range(\(f.lastkey ?? -999),\(f.keystep ?? -999),\(f.limit ?? -999))"
        case "keynum": range = "keynum(\(f.keynumidx ?? -999),\(f.firstkey ?? -999),\(f.keystep ?? -999))"
        default: range = spec.findKeys.type
        }
        // In the order of keySpecFlagNames, as describe(RedisKeySpec) lists them.
        let flags = keySpecFlagNames.map(\.0).filter(spec.flags.contains)
        return ([search, range] + flags).joined(separator: " ")
    }

    static func loadDump() throws -> Dump {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../redis/vectors/command-table.json").standardized
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Dump.self, from: Data(contentsOf: url))
    }

    @Test func agreesWithTheJSONDump() throws {
        let dump = try Self.loadDump()
        #expect(dump.source == Self.text(Table.source))
        #expect(dump.counts.commands == Table.commands.count)
        #expect(dump.counts.subcommands == Table.subcommands.count)
        #expect(dump.counts.keySpecs == Table.keySpecs.count)

        // The dump lists each container followed by its subcommands, in table order.
        var expected: [(fullName: String, spec: RedisCommandSpec)] = []
        for spec in Table.commands {
            expected.append((Self.text(spec.name), spec))
            for sub in Self.subcommands(of: spec) {
                expected.append(("\(Self.text(spec.name))|\(Self.text(sub.name))", sub))
            }
        }
        #expect(dump.commands.count == expected.count)
        for (entry, (fullName, spec)) in zip(dump.commands, expected) {
            #expect(entry.name == fullName)
            #expect(entry.arity == Int(spec.arity), "\(fullName)")
            var flags: RedisCommandFlags = []
            for name in entry.flags {
                let flag = Self.commandFlagNames[name]
                #expect(flag != nil, "unknown flag \(name)")
                flags.formUnion(flag ?? [])
            }
            #expect(flags == spec.flags, "\(fullName) flags")
            #expect(entry.categories.allSatisfy { name in RedisACLCategories.byName.contains { $0.name == name } })
            #expect(Self.categories(entry.categories) == spec.categories, "\(fullName) categories")
            #expect(entry.keySpecs.map(Self.describe) == Self.describe(Self.keySpecs(spec)), "\(fullName) key specs")
        }
    }
}
