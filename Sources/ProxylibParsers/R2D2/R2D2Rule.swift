import ProxylibCore

/// An r2d2 policy rule: `cmd` (exact; READ, WRITE, HALT or RESET) and `file` (a regular expression that
/// must occur in the file name; only with READ or WRITE). An absent key always holds.
struct R2D2Rule: L7Rule {
    var command: [UInt8] = []
    var file: RegexPattern?

    static let validCommands: Set<String> = ["READ", "WRITE", "HALT", "RESET"]

    static let ruleParser = L7RuleParser.keyValue { rule in
        var compiled = R2D2Rule()
        var commandText = ""
        for (key, value) in rule.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "cmd":
                commandText = value
                compiled.command = Array(value.utf8)
            case "file":
                if !value.isEmpty { compiled.file = try RegexPattern(value) }
            default:
                throw PolicyError("unsupported key: \(key)")
            }
        }
        if !commandText.isEmpty && !validCommands.contains(commandText) {
            throw PolicyError("unable to parse L7 r2d2 rule with invalid cmd: '\(commandText)'")
        }
        if compiled.file != nil && !(commandText.isEmpty || commandText == "READ" || commandText == "WRITE") {
            throw PolicyError("unable to parse L7 r2d2 rule, cmd '\(commandText)' is not compatible with 'file'")
        }
        return compiled
    }

    func matches(_ request: R2D2Request) -> Bool { evaluate(request, whenUndecided: false) }
    func denies(_ request: R2D2Request) -> Bool { evaluate(request, whenUndecided: true) }

    private func evaluate(_ request: R2D2Request, whenUndecided: Bool) -> Bool {
        if !command.isEmpty && !ASCII.equals(request.command, command) { return false }
        if let file, !file.matches(request.file, whenUndecided: whenUndecided) { return false }
        return true
    }
}
