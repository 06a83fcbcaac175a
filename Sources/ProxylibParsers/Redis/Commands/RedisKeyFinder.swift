/// Finds the argument positions of a request's keys and channels, as redis itself finds them for its ACL
/// checks: the command's key specs (begin search, then range or key count), and for the commands whose specs
/// cannot say (SORT's STORE and BY/GET patterns, MIGRATE's KEYS form) the rules of redis's own key finders.
enum RedisKeyFinder {
    enum Outcome: Equatable {
        /// Every key the command will touch is in the list.
        case complete
        /// The command may touch keys not in the list (keys derived from data, a key count that is not a
        /// number, keys beyond the arguments): rules on keys treat it as failing closed.
        case incomplete
        /// An argument the search must read has not arrived yet.
        case needMore
    }

    static func findKeys(_ ref: RedisCommandRef, role: RedisCommandRole, in arguments: RedisArguments,
                         into keys: inout ReusedList<Int32>) -> Outcome {
        keys.removeAll()
        let spec = ref.spec
        var outcome = Outcome.complete
        let start = Int(spec.keySpecStart)
        for index in start ..< start + Int(spec.keySpecCount) where index < RedisCommandTable.keySpecs.count {
            let keySpec = RedisCommandTable.keySpecs[index]
            if keySpec.flags.contains(.notKey) { continue }
            switch apply(keySpec, role: role, arguments: arguments, into: &keys) {
            case .complete: break
            case .incomplete: outcome = .incomplete
            case .needMore: return .needMore
            }
        }
        switch role {
        case .sort, .sortReadOnly:
            let extra = sortKeys(arguments, allowStore: role == .sort, into: &keys)
            return extra == .complete ? outcome : extra
        case .migrate:
            return migrateKeys(arguments, into: &keys)
        case .geoRadius:
            // The key specs find the first STORE/STOREDIST; GEORADIUS writes the last one given. Every
            // destination named is checked.
            return outcome == .complete ? geoRadiusDestinations(arguments, into: &keys) : outcome
        default:
            return outcome
        }
    }

    /// One key spec, as redis's `getKeysUsingKeySpecs` applies it.
    private static func apply(_ spec: RedisKeySpec, role: RedisCommandRole, arguments: RedisArguments,
                              into keys: inout ReusedList<Int32>) -> Outcome {
        let argc = arguments.count
        var first: Int
        switch spec.search {
        case .index(let position):
            first = Int(position)
        case .keyword(let word, let startFrom):
            let forward = startFrom > 0
            let startIndex = forward ? Int(startFrom) : argc + Int(startFrom)
            let endIndex = forward ? argc - 1 : 0
            var index = startIndex
            var found: Int?
            while index != endIndex {
                if index >= argc || index < 0 { break }
                guard let equal = arguments.withArgument(index, { ASCIICase.equals($0, word) }) else { return .needMore }
                if equal {
                    found = index + 1
                    break
                }
                index += startIndex <= endIndex ? 1 : -1
            }
            guard let found else { return .complete }
            first = found
        case .unknown:
            // SORT and MIGRATE are walked by their own finders; any other unknown spec cannot be honoured.
            return role == .sort || role == .sortReadOnly || role == .migrate ? .complete : .incomplete
        }
        let last: Int, step: Int
        switch spec.range {
        case .range(let lastKey, let keyStep, let limit):
            step = Int(keyStep)
            if lastKey >= 0 {
                last = first + Int(lastKey)
            } else if limit == 0 {
                last = argc + Int(lastKey)
            } else {
                guard limit > 0 else { return .incomplete }
                last = first + ((argc - first) / Int(limit) + Int(lastKey))
            }
        case .keyNum(let keyNumIndex, let firstKey, let keyStep):
            step = Int(keyStep)
            let countIndex = first + Int(keyNumIndex)
            guard countIndex < argc else { return .incomplete }
            guard let length = arguments.length(of: countIndex) else { return .incomplete }
            guard length <= 20, let counted = arguments.withArgument(countIndex, { RESPInteger.parse($0) }) else {
                return length <= 20 ? .needMore : .incomplete
            }
            guard let keyCount = counted, keyCount >= 0, keyCount <= Int64(argc) else { return .incomplete }
            first += Int(firstKey)
            last = first + Int(keyCount) - 1
        case .unknown:
            return role == .migrate ? .complete : .incomplete
        }
        if last < first { return .complete }
        // Keys past the arguments: redis refuses the command, and nothing here can be judged.
        guard first < argc, last < argc, step > 0 else { return .incomplete }
        var index = first
        while index <= last {
            keys.append(Int32(index))
            index += step
        }
        return .complete
    }

    /// SORT key [BY pattern] [LIMIT offset count] [GET pattern …] [ASC|DESC] [ALPHA] [STORE destination]:
    /// STORE names a key; a BY or GET pattern with `*` makes SORT read keys named by the data (incomplete).
    private static func sortKeys(_ arguments: RedisArguments, allowStore: Bool, into keys: inout ReusedList<Int32>) -> Outcome {
        var index = 2
        var outcome = Outcome.complete
        // Redis writes only the last STORE destination given (and its key finder lists only that one).
        var destination: Int?
        defer { if let destination { keys.append(Int32(destination)) } }
        while index < arguments.count {
            guard arguments.withArgument(index, { _ in true }) != nil else { return .needMore }
            if arguments.argument(index, equalsIgnoringCase: "by") || arguments.argument(index, equalsIgnoringCase: "get") {
                guard index + 1 < arguments.count else { break }
                guard let readsKeys = arguments.withArgument(index + 1, { pattern in
                    ASCII.firstIndex(of: UInt8(ascii: "*"), in: pattern) != nil
                }) else { return .needMore }
                if readsKeys { outcome = .incomplete }
                index += 2
            } else if arguments.argument(index, equalsIgnoringCase: "limit") {
                index += 3
            } else if allowStore && arguments.argument(index, equalsIgnoringCase: "store") {
                guard index + 1 < arguments.count else { break }
                destination = index + 1
                index += 2
            } else {
                index += 1
            }
        }
        return outcome
    }

    /// Every argument after a STORE or STOREDIST keyword (beyond the key, center and radius).
    private static func geoRadiusDestinations(_ arguments: RedisArguments, into keys: inout ReusedList<Int32>) -> Outcome {
        var index = 2
        while index + 1 < arguments.count {
            guard arguments.withArgument(index, { _ in true }) != nil else { return .needMore }
            if arguments.argument(index, equalsIgnoringCase: "store") || arguments.argument(index, equalsIgnoringCase: "storedist") {
                if !keys.contains(Int32(index + 1)) { keys.append(Int32(index + 1)) }
                index += 2
            } else {
                index += 1
            }
        }
        return .complete
    }

    /// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS key …]: the keys
    /// follow KEYS (the key argument then empty), else the key argument is the one key.
    private static func migrateKeys(_ arguments: RedisArguments, into keys: inout ReusedList<Int32>) -> Outcome {
        keys.removeAll()
        var index = 6
        while index < arguments.count {
            guard arguments.withArgument(index, { _ in true }) != nil else { return .needMore }
            if arguments.argument(index, equalsIgnoringCase: "auth2") {
                index += 3
            } else if arguments.argument(index, equalsIgnoringCase: "auth") {
                index += 2
            } else if arguments.argument(index, equalsIgnoringCase: "keys") {
                // redis refuses KEYS with a non-empty key argument.
                guard arguments.length(of: 3) == 0 else { return .incomplete }
                var key = index + 1
                while key < arguments.count {
                    keys.append(Int32(key))
                    key += 1
                }
                return .complete
            } else {
                index += 1
            }
        }
        guard arguments.count > 3 else { return .incomplete }
        keys.append(3)
        return .complete
    }

    /// The channels a command publishes or subscribes to (PSUBSCRIBE: patterns). Unsubscribing names no
    /// channel a policy restricts.
    static func findChannels(role: RedisCommandRole, in arguments: RedisArguments, into channels: inout ReusedList<Int32>) {
        channels.removeAll()
        switch role {
        case .publish, .spublish:
            if arguments.count > 1 { channels.append(1) }
        case .subscribe, .psubscribe, .ssubscribe:
            var index = 1
            while index < arguments.count {
                channels.append(Int32(index))
                index += 1
            }
        default:
            break
        }
    }
}
