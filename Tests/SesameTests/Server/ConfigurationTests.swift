import Testing
@testable import Sesame

@Suite struct ConfigurationTests {
    private func error(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as Configuration.Error { return e.description } catch { return "\(error)" }
    }

    @Test func defaults() {
        let c = Configuration()
        #expect(c.port == 6379)
        #expect(c.bindAddresses == ["127.0.0.1", "-::1"])
        #expect(c.databases == 16)
        #expect(c.maxClients == 10000)
        #expect(c.limits == RESPLimits())
        #expect(c.limits.maxBulkLength == 512 * 1024 * 1024)
        #expect(c.limits.maxInlineLength == 64 * 1024)
        #expect(c.limits.maxMultibulkLength == 1024 * 1024)
        #expect(c.threads >= 1)
    }

    @Test func flags() throws {
        let c = try Configuration.parse(arguments: [
            "--port", "7000", "--bind", "0.0.0.0", "::", "--threads", "3", "--databases", "4",
            "--loglevel", "WARNING", "--requirepass", "s3cret", "--maxclients", "50",
            "--proto-max-bulk-len", "2mb", "--shards", "64", "--save", "", "--appendonly", "no",
        ])
        #expect(c.port == 7000)
        #expect(c.bindAddresses == ["0.0.0.0", "::"])
        #expect(c.threads == 3)
        #expect(c.databases == 4)
        #expect(c.logLevel == .warning)
        #expect(c.requirePass == "s3cret")
        #expect(c.maxClients == 50)
        #expect(c.limits.maxBulkLength == 2 * 1024 * 1024)
        #expect(c.shards == 64)
        #expect(c.configFile == nil)
    }

    @Test func appendOnlyFileSettings() throws {
        let d = Configuration()
        #expect(!d.appendOnly && d.appendFsync == .everysec && d.dir == "." && d.appendFilename == "appendonly.aof")
        #expect(d.aofLoadTruncated && d.autoAOFRewritePercentage == 100 && d.autoAOFRewriteMinSize == 64 << 20)
        var c = Configuration()
        try c.apply(fileContents: "appendonly yes\nappendfsync always\ndir /tmp/x/\nappendfilename s.aof\n"
                    + "aof-load-truncated no\nauto-aof-rewrite-percentage 0\nauto-aof-rewrite-min-size 1mb\naof-use-rdb-preamble yes\n")
        #expect(c.appendOnly && c.appendFsync == .always && c.dir == "/tmp/x" && c.appendFilename == "s.aof")
        #expect(!c.aofLoadTruncated && c.autoAOFRewritePercentage == 0 && c.autoAOFRewriteMinSize == 1 << 20)
        #expect(error { _ = try Configuration.parse(arguments: ["--appendfsync", "sometimes"]) }?.contains("always, everysec or no") == true)
        #expect(error { _ = try Configuration.parse(arguments: ["--appendfilename", "a/b"]) }?.contains("can't be a path") == true)
    }

    @Test func flagsAreCaseInsensitive() throws {
        let c = try Configuration.parse(arguments: ["--PORT", "1234"])
        #expect(c.port == 1234)
    }

    @Test func emptyRequirepassMeansNone() throws {
        var c = Configuration()
        try c.set("requirepass", ["x"])
        try c.set("requirepass", [""])
        #expect(c.requirePass == nil)
    }

    @Test func configFileText() throws {
        var c = Configuration()
        try c.apply(fileContents: """
            # a comment
            port 7001
               bind 127.0.0.1 ::1
            \tloglevel debug

            requirepass "pass"
            maxclients 123
            proto-max-bulk-len 1gb
            save 900 1
            daemonize no
            """)
        #expect(c.port == 7001)
        #expect(c.bindAddresses == ["127.0.0.1", "::1"])
        #expect(c.logLevel == .debug)
        #expect(c.maxClients == 123)
        #expect(c.limits.maxBulkLength == 1 << 30)
        #expect(c.requirePass == "pass")
    }

    @Test func crlfLineEndings() throws {
        // A config file saved with CRLF line endings. In Swift "\r\n" is one Character, so
        // splitting the text on Character "\n" would not split such lines at all.
        var c = Configuration()
        try c.apply(fileContents: "port 7002\r\nmaxclients 7\r\n")
        #expect(c.port == 7002)
        #expect(c.maxClients == 7)
    }

    @Test func quotedValueWithSpaces() throws {
        // redis.conf lines are split with sdssplitargs, so quotes may enclose spaces.
        var c = Configuration()
        try c.apply(fileContents: "requirepass \"two words\"\n")
        #expect(c.requirePass == "two words")
    }

    @Test func configFileErrorsNameTheLine() {
        var c = Configuration()
        #expect(error { try c.apply(fileContents: "port 1\nfrobnicate yes\n") }
            == "Bad directive or wrong number of arguments at line 2: Unknown option or number of arguments for CONFIG SET - 'frobnicate'")
        #expect(error { try c.apply(fileContents: "\n\nport 70000\n") }
            == "Bad directive or wrong number of arguments at line 3: 'port' must be an integer in 0...65535, got '70000'")
    }

    @Test func unknownOption() {
        #expect(error { _ = try Configuration.parse(arguments: ["--no-such-thing", "1"]) }
            == "Unknown option or number of arguments for CONFIG SET - 'no-such-thing'")
        #expect(error { _ = try Configuration.parse(arguments: ["--port", "1", "stray"]) } != nil)
        #expect(error { _ = try Configuration.parse(arguments: ["--"]) } == "Invalid argument '--': options are given as --name value")
    }

    @Test(arguments: ["", "abc", "-1", "65536", "1.5", "80 81", "0x50"])
    func badPort(_ value: String) {
        var c = Configuration()
        let values = value.isEmpty ? [] : value.split(separator: " ").map(String.init)
        #expect(error { try c.set("port", values) } != nil, "port '\(value)'")
        #expect(c.port == 6379)
    }

    @Test func portZeroMeansAnyFreePort() throws {
        var c = Configuration()
        try c.set("port", ["0"])
        #expect(c.port == 0)
    }

    @Test func badValues() {
        var c = Configuration()
        #expect(error { try c.set("loglevel", ["loud"]) } == "'loglevel' must be one of debug, verbose, notice, warning, nothing")
        #expect(error { try c.set("threads", ["0"]) } != nil)
        #expect(error { try c.set("bind", []) } == "'bind' needs at least one address")
        #expect(error { try c.set("daemonize", ["yes"]) } != nil)
        #expect(error { try c.set("proto-max-bulk-len", ["1000"]) } != nil)  // below 1 MB
        #expect(error { try c.set("proto-max-bulk-len", ["lots"]) } != nil)
    }

    @Test func missingConfigFile() {
        let e = error { _ = try Configuration.parse(arguments: ["/nonexistent/sesame.conf"]) }
        #expect(e?.hasPrefix("Fatal error, can't open config file '/nonexistent/sesame.conf'") == true)
    }

    @Test(arguments: [
        ("0", 0), ("100", 100), ("1b", 1), ("1k", 1000), ("1kb", 1024), ("1K", 1000), ("1KB", 1024),
        ("3m", 3_000_000), ("3mb", 3 << 20), ("1g", 1_000_000_000), ("1gb", 1 << 30), ("2GB", 2 << 30),
        ("512mb", 512 << 20),
    ])
    func memoryUnits(_ text: String, _ value: Int) {
        #expect(parseMemory(text) == value)
    }

    @Test(arguments: ["", "k", "kb", "-1k", "1x", "1.5mb", "1 mb", "99999999999999999999gb", "9223372036854775807kb"])
    func badMemory(_ text: String) {
        #expect(parseMemory(text) == nil)
    }
}
