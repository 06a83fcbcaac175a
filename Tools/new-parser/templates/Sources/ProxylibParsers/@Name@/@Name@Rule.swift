import ProxylibCore

/// A `@name@` policy rule (`l7: [{verb: …, resource: …}]`): `verb` is compared exactly; `resource` is a
/// regular expression (RE2 syntax, found anywhere in the resource unless anchored). An absent key always
/// holds, so `{}` allows every request. Anything else rejects the whole policy update (a NACK naming it).
struct @Name@Rule: L7Rule {
    var verb: [UInt8]?
    var resource: RegexPattern?

    static let ruleParser = L7RuleParser.keyValue { rule in
        var compiled = @Name@Rule()
        for (key, value) in rule {
            switch key {
            case "verb":
                let bytes = Array(value.utf8)
                guard !bytes.isEmpty, bytes.count <= @Name@Request.maxVerbLength, bytes.allSatisfy(@Name@Request.isLetter) else {
                    throw PolicyError("@name@ rule: verb '\(value)' is not 1-\(@Name@Request.maxVerbLength) ASCII letters")
                }
                compiled.verb = bytes
            case "resource":
                compiled.resource = try RegexPattern(value)
            default:
                throw PolicyError("@name@ rule: unsupported key '\(key)' (use verb, resource)")
            }
        }
        return compiled
    }

    func matches(_ request: @Name@Request) -> Bool { evaluate(request, whenUndecided: false) }

    /// A deny rule whose regular expression cannot decide (its match limit hit) denies: fail closed.
    func denies(_ request: @Name@Request) -> Bool { evaluate(request, whenUndecided: true) }

    private func evaluate(_ request: @Name@Request, whenUndecided: Bool) -> Bool {
        if let verb, !request.verb.elementsEqual(verb) { return false }
        if let resource, !resource.matches(request.resource, whenUndecided: whenUndecided) { return false }
        return true
    }
}
