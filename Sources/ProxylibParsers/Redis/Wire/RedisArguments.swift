import ProxylibCore

/// The arguments of the request being decided: where each lies in the input (multibulk requests, read in
/// place) or in `inlineBytes` (inline commands, whose quoting and escapes are undone into a copy). Reused by
/// every request of the connection, so steady traffic does not allocate.
///
/// The view of the input is valid during one `onData` call only; `attach` replaces it for each request.
final class RedisArguments {
    private(set) var count = 0
    private var starts = ReusedList<Int>(capacity: 16)
    private var lengths = ReusedList<Int>(capacity: 16)
    private var isInline = false
    private var input = InputView.empty
    /// The unescaped arguments of an inline command, back to back.
    var inlineBytes: [UInt8] = []
    private var scratch: [UInt8] = []

    init() {
        inlineBytes.reserveCapacity(128)
        scratch.reserveCapacity(128)
    }

    func startMultibulk(_ input: InputView) {
        self.input = input
        isInline = false
        count = 0
        starts.removeAll()
        lengths.removeAll()
    }

    func startInline() {
        input = .empty
        isInline = true
        count = 0
        starts.removeAll()
        lengths.removeAll()
        inlineBytes.removeAll(keepingCapacity: true)
    }

    func append(start: Int, length: Int) {
        starts.append(start)
        lengths.append(length)
        count += 1
    }

    /// Drops the borrowed input view once the request is decided.
    func detach() {
        input = .empty
    }

    func length(of index: Int) -> Int? {
        lengths.element(at: index)
    }

    /// Calls `body` with argument `index`'s bytes; nil when there is no such argument or its bytes have not
    /// arrived yet. `body` must not call back into this object.
    func withArgument<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        guard let start = starts.element(at: index), let length = lengths.element(at: index) else { return nil }
        if isInline {
            return inlineBytes.withUnsafeBytes { all in
                body(UnsafeRawBufferPointer(rebasing: all[start..<(start + length)]))
            }
        }
        return input.withContiguousBytes(from: start, count: length, scratch: &scratch, body)
    }

    /// Whether argument `index` equals `word`, ignoring ASCII case (keywords, subcommands).
    func argument(_ index: Int, equalsIgnoringCase word: StaticString) -> Bool {
        withArgument(index) { bytes in ASCIICase.equals(bytes, word) } ?? false
    }

    /// Argument `index` as redis reads an integer argument; nil when absent, not arrived or not an integer.
    func integer(at index: Int) -> Int64? {
        guard let length = length(of: index), length <= 20 else { return nil }
        return withArgument(index) { RESPInteger.parse($0) } ?? nil
    }
}

/// ASCII case-insensitive comparisons, as redis's `strcasecmp` on command names and keywords.
enum ASCIICase {
    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        let other = word.utf8Start
        for index in 0..<bytes.count where lower(bytes[index]) != lower(other[index]) {
            return false
        }
        return true
    }

    /// Compares `bytes` lowercased with `word` (already lowercase): <0, 0, >0 as byte strings.
    static func compare(_ bytes: UnsafeRawBufferPointer, _ word: StaticString) -> Int {
        let other = word.utf8Start
        let common = min(bytes.count, word.utf8CodeUnitCount)
        for index in 0..<common {
            let a = lower(bytes[index]), b = other[index]
            if a != b { return a < b ? -1 : 1 }
        }
        return bytes.count == word.utf8CodeUnitCount ? 0 : (bytes.count < word.utf8CodeUnitCount ? -1 : 1)
    }
}
