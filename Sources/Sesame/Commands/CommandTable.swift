// The command table: every command's name, arity, flags and key positions in one place, as
// data (Redis's commands.def, miniredis's registrations). The dispatcher checks arity before a
// handler runs, so handlers start from a well-formed argument count.

public typealias CommandHandler = @Sendable (Client, Arguments) -> Void
/// Subcommand handlers are built per call (they may capture local state), so need not be Sendable.
public typealias SubcommandHandler = (Client, Arguments) -> Void

public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyOOM = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let fast = CommandFlags(rawValue: 1 << 4)
    public static let noAuth = CommandFlags(rawValue: 1 << 5)
    public static let loading = CommandFlags(rawValue: 1 << 6)
    public static let stale = CommandFlags(rawValue: 1 << 7)
    public static let noScript = CommandFlags(rawValue: 1 << 8)

    /// Names as COMMAND reports them, in Redis's order.
    var names: [String] {
        var n: [String] = []
        if contains(.write) { n.append("write") }
        if contains(.readonly) { n.append("readonly") }
        if contains(.denyOOM) { n.append("denyoom") }
        if contains(.admin) { n.append("admin") }
        if contains(.noScript) { n.append("noscript") }
        if contains(.loading) { n.append("loading") }
        if contains(.stale) { n.append("stale") }
        if contains(.fast) { n.append("fast") }
        if contains(.noAuth) { n.append("no_auth") }
        return n
    }
}

/// A class, not a struct: the dispatcher fetches a spec per command, and copying a struct
/// holding a String, an array and a closure cost three retains and releases every time.
public final class CommandSpec: Sendable {
    /// Lowercase name as COMMAND reports it.
    public let name: String
    /// Redis convention: N means exactly N arguments including the name; -N means at least N.
    public let arity: Int
    public let flags: CommandFlags
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    /// ACL categories as COMMAND reports them (`@read`, `@hash`, ...).
    public let categories: [String]
    public let handler: CommandHandler

    public init(_ name: String, arity: Int, flags: CommandFlags, keys: (Int, Int, Int) = (0, 0, 0),
                categories: [String] = [], handler: @escaping CommandHandler) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.firstKey = keys.0
        self.lastKey = keys.1
        self.keyStep = keys.2
        self.categories = categories
        self.handler = handler
    }

    @inline(__always) public func arityOK(_ argc: Int) -> Bool {
        arity >= 0 ? argc == arity : argc >= -arity
    }
}

/// Case-insensitive name -> spec lookup straight from argument bytes: an open-addressing table
/// hashed with FNV-1a over ASCII-lowercased bytes, so dispatch allocates nothing.
///
/// `rename-command` changes only the name a client must send: a renamed command keeps its
/// spec (its name in COMMAND output and in error texts, as in Redis), and a command renamed
/// to "" is gone from the table, so it answers as an unknown command and COMMAND omits it.
public final class CommandTable: @unchecked Sendable {
    // All `let`: built once, read on every command without run-time exclusivity checks.
    public let specs: [CommandSpec]
    /// `specs` again, unretained (`specs` keeps them alive): the dispatcher borrows its spec
    /// from here without a retain/release pair per command.
    private let specRefs: [Unmanaged<CommandSpec>]
    private let slots: [Int32]
    private let names: [[UInt8]]
    private let mask: Int
    private let longestName: Int

    /// `renames` are applied in order, each to the name the command has at that point
    /// (Configuration validated them).
    public init(_ specs: [CommandSpec], renames: [(from: String, to: String)] = []) {
        var named = specs.map { (name: $0.name, spec: $0) }
        for r in renames {
            guard let i = named.firstIndex(where: { $0.name == r.from }) else { continue }
            if r.to.isEmpty { named.remove(at: i) } else { named[i].name = r.to }
        }
        var size = 64
        while size < named.count * 4 { size <<= 1 }
        let mask = size - 1
        var slots = [Int32](repeating: -1, count: size)
        var table: [CommandSpec] = []
        var names: [[UInt8]] = []
        var longest = 0
        for n in named {
            let bytes = Array(n.name.lowercased().utf8)
            longest = max(longest, bytes.count)
            var i = bytes.withUnsafeBytes { CommandTable.hash($0) } & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(table.count)
            table.append(n.spec)
            names.append(bytes)
        }
        self.mask = mask
        self.slots = slots
        self.specs = table
        self.specRefs = table.map { .passUnretained($0) }
        self.names = names
        self.longestName = longest
    }

    @inline(__always) static func hash(_ p: UnsafeRawBufferPointer) -> Int {
        var h: UInt64 = 0xcbf29ce484222325
        for var c in p {
            if c >= 65 && c <= 90 { c |= 0x20 }
            h = (h ^ UInt64(c)) &* 0x100000001b3
        }
        return Int(truncatingIfNeeded: h)
    }

    @inline(__always)
    public func lookup(_ name: UnsafeRawBufferPointer) -> CommandSpec? {
        lookupUnretained(name)?.takeUnretainedValue()
    }

    /// `lookup` without a reference count: the table outlives every command it dispatches.
    @inline(__always)
    func lookupUnretained(_ name: UnsafeRawBufferPointer) -> Unmanaged<CommandSpec>? {
        if name.count > longestName { return nil }
        var i = CommandTable.hash(name) & mask
        while true {
            let s = slots[i]
            if s < 0 { return nil }
            if equalsLowercased(name, names[Int(s)]) { return specRefs[Int(s)] }
            i = (i + 1) & mask
        }
    }

    @inline(__always)
    private func equalsLowercased(_ a: UnsafeRawBufferPointer, _ lower: [UInt8]) -> Bool {
        guard a.count == lower.count else { return false }
        for j in 0..<a.count {
            var c = a[j]
            if c >= 65 && c <= 90 { c |= 0x20 }
            if c != lower[j] { return false }
        }
        return true
    }

    public func lookup(_ name: String) -> CommandSpec? {
        Array(name.utf8).withUnsafeBytes { lookup($0) }
    }
}
