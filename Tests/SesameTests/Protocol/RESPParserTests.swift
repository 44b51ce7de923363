import Testing
@testable import Sesame

/// Every input is parsed three ways (all at once, one byte at a time, random chunks with several
/// seeds): the outcomes must be identical, since TCP may split a request anywhere.
private func parseEveryWay(_ input: [UInt8], limits: RESPLimits = RESPLimits(),
                           sourceLocation: SourceLocation = #_sourceLocation) -> ParseRun {
    let whole = feedAll(input, limits: limits)
    #expect(feedBytewise(input, limits: limits) == whole, "byte at a time", sourceLocation: sourceLocation)
    for seed in 1...5 as ClosedRange<UInt64> {
        #expect(feedRandom(input, seed: seed, limits: limits) == whole, "random chunks, seed \(seed)",
                sourceLocation: sourceLocation)
    }
    return whole
}

@Suite struct RESPParserMultibulkTests {
    @Test func simpleCommand() {
        let run = parseEveryWay(multibulk("SET", "key", "value"))
        #expect(run.outcomes == [.cmd("SET", "key", "value")])
        #expect(run.leftover == 0)
    }

    @Test func emptyBinaryAndCRLFArguments() {
        let binary: [UInt8] = Array(0...255)
        let args: [[UInt8]] = [bytes("HSET"), [], bytes("a\r\nb"), binary, bytes("\r\n"), bytes("*2\r\n$1\r\nx\r\n"), [0]]
        let run = parseEveryWay(multibulk(args))
        #expect(run.outcomes == [.command(args)])
    }

    @Test func pipelineOfManyCommands() {
        var input: [UInt8] = []
        var expected: [Parsed] = []
        for i in 0..<500 {
            let args = [bytes("HSET"), bytes("sess:{\(i)}"), bytes("field\(i)"), Array(repeating: UInt8(i & 0xFF), count: i % 70)]
            input += multibulk(args)
            expected.append(.command(args))
        }
        let run = parseEveryWay(input)
        #expect(run.outcomes == expected)
        #expect(run.leftover == 0)
    }

    @Test func mixedInlineAndMultibulkPipeline() {
        let input = bytes("PING\r\n") + multibulk("GET", "k") + bytes("\r\n") + bytes("ECHO hi\n") + bytes("*0\r\n")
            + multibulk("DEL", "a", "b")
        let run = parseEveryWay(input)
        #expect(run.outcomes == [.cmd("PING"), .cmd("GET", "k"), .empty, .cmd("ECHO", "hi"), .empty, .cmd("DEL", "a", "b")])
    }

    @Test func zeroAndNegativeCountsAreEmpty() {
        #expect(parseEveryWay(bytes("*0\r\n")).outcomes == [.empty])
        #expect(parseEveryWay(bytes("*-1\r\n")).outcomes == [.empty])
        #expect(parseEveryWay(bytes("*-5\r\n")).outcomes == [.empty])
        let run = parseEveryWay(bytes("*0\r\n*-1\r\n") + multibulk("PING"))
        #expect(run.outcomes == [.empty, .empty, .cmd("PING")])
        #expect(run.leftover == 0)
    }

    @Test func partialCommandWaitsForMore() {
        let full = multibulk("SET", "key", "value")
        for cut in 1..<full.count {
            let run = feedAll(Array(full[0..<cut]))
            #expect(run.outcomes.isEmpty, "cut at \(cut)")
            #expect(run.leftover == cut)
        }
    }

    @Test func bulkLengthAboveLimitIsRejected() {
        var limits = RESPLimits()
        limits.maxBulkLength = 1024 * 1024
        #expect(parseEveryWay(bytes("*1\r\n$1048577\r\n"), limits: limits).outcomes
            == [.error("Protocol error: invalid bulk length")])
        // Exactly at the limit the header is accepted and the parser waits for the payload.
        #expect(parseEveryWay(bytes("*1\r\n$1048576\r\n"), limits: limits).outcomes == [])
        // The default limit is 512 MB.
        #expect(parseEveryWay(bytes("*1\r\n$536870913\r\n")).outcomes == [.error("Protocol error: invalid bulk length")])
        #expect(parseEveryWay(bytes("*1\r\n$536870912\r\n")).outcomes == [])
    }

    @Test func multibulkCountAboveLimitIsRejected() {
        #expect(parseEveryWay(bytes("*1048577\r\n")).outcomes == [.error("Protocol error: invalid multibulk length")])
        #expect(parseEveryWay(bytes("*1048576\r\n")).outcomes == [])
        #expect(parseEveryWay(bytes("*4294967296\r\n")).outcomes == [.error("Protocol error: invalid multibulk length")])
        #expect(parseEveryWay(bytes("*99999999999999999999\r\n")).outcomes == [.error("Protocol error: invalid multibulk length")])
    }

    @Test func malformedCounts() {
        // Ten digits is the most the digit-only fast path reads; longer and zero-led counts go
        // through the general parser, whose errors these are.
        for bad in ["*\r\n", "*x\r\n", "*1x\r\n", "*+1\r\n", "*01\r\n", "* 1\r\n", "*-0\r\n", "*1.0\r\n",
                    "*9999999999\r\n", "*0000000001\r\n", "*12345678901\r\n", "*00\r\n"] {
            #expect(parseEveryWay(bytes(bad)).outcomes == [.error("Protocol error: invalid multibulk length")], "\(bad)")
        }
    }

    @Test func malformedBulkLengths() {
        for bad in ["$\r\n", "$x\r\n", "$-1\r\n", "$-5\r\n", "$+3\r\n", "$03\r\n", "$3 \r\n", "$99999999999999999999\r\n",
                    "$9999999999\r\n", "$10000000000\r\n", "$00\r\n", "$0000000003\r\n"] {
            #expect(parseEveryWay(bytes("*1\r\n" + bad)).outcomes == [.error("Protocol error: invalid bulk length")], "\(bad)")
        }
    }

    @Test func expectedDollar() {
        #expect(parseEveryWay(bytes("*1\r\nX\r\n")).outcomes == [.error("Protocol error: expected '$', got 'X'")])
        #expect(parseEveryWay(bytes("*2\r\n$1\r\na\r\n:1\r\n")).outcomes == [.error("Protocol error: expected '$', got ':'")])
        // As in Redis, the header line must be complete before it is judged.
        let partial = parseEveryWay(bytes("*1\r\nX"))
        #expect(partial.outcomes == [])
        #expect(partial.leftover == 5)
    }

    @Test func tooBigCountLines() {
        let long = [UInt8](repeating: UInt8(ascii: "1"), count: 64 * 1024 + 10)
        #expect(feedAll(bytes("*") + long).outcomes == [.error("Protocol error: too big mbulk count string")])
        #expect(feedAll(bytes("*1\r\n$") + long).outcomes == [.error("Protocol error: too big bulk count string")])
    }

    @Test func unauthenticatedLimits() {
        func parse(_ input: [UInt8], authRequired: Bool) -> ParseOutcome {
            var parser = RESPParser()
            parser.authRequired = authRequired
            let buffer = ByteBuffer(capacity: 64)
            buffer.append(input)
            return parser.next(buffer)
        }
        #expect(parse(bytes("*11\r\n"), authRequired: true) == .protocolError("Protocol error: unauthenticated multibulk length"))
        #expect(parse(bytes("*10\r\n"), authRequired: true) == .needMore)
        #expect(parse(bytes("*11\r\n"), authRequired: false) == .needMore)
        #expect(parse(bytes("*2\r\n$4\r\nAUTH\r\n$16385\r\n"), authRequired: true)
            == .protocolError("Protocol error: unauthenticated bulk length"))
        #expect(parse(bytes("*2\r\n$4\r\nAUTH\r\n$16384\r\n"), authRequired: true) == .needMore)
        // The general limits are checked first, with their own text.
        #expect(parse(bytes("*2\r\n$-3\r\n"), authRequired: true) == .protocolError("Protocol error: invalid bulk length"))
    }

    @Test func hugeBulkHeaderAllocatesNothing() {
        var parser = RESPParser()
        let buffer = ByteBuffer(capacity: 64)
        buffer.append(bytes("*2\r\n$536870911\r\n"))
        #expect(parser.next(buffer) == .needMore)
        #expect(buffer.capacity <= 64)
        // More payload trickles in: the buffer grows with the data, never to the declared size.
        for _ in 0..<100 {
            parser.bufferShifted(by: buffer.reserve(10))
            buffer.append(bytes("0123456789"))
            #expect(parser.next(buffer) == .needMore)
        }
        #expect(buffer.capacity <= 4096)
    }

    @Test func argumentsPointIntoTheBuffer() {
        // Multibulk arguments are spans into the input buffer, not copies.
        var parser = RESPParser()
        let buffer = ByteBuffer(capacity: 64)
        buffer.append(multibulk("GET", "key"))
        #expect(parser.next(buffer) == .command)
        parser.withArguments(buffer) { args in
            #expect(args.count == 2)
            #expect(args[1].baseAddress == UnsafeRawPointer(buffer.base + 17))
        }
        parser.commandDone(buffer)
        #expect(buffer.isEmpty)
    }

    @Test func partialCommandSurvivesCompaction() {
        var parser = RESPParser()
        let buffer = ByteBuffer(capacity: 64)
        // One whole command followed by half of the next, with two arguments already parsed.
        let first = multibulk("PING")
        let second = multibulk("SET", "key", "value")
        buffer.append(first + Array(second[0..<22]))
        #expect(parser.next(buffer) == .command)
        parser.commandDone(buffer)
        #expect(parser.next(buffer) == .needMore)
        #expect(buffer.readerIndex == first.count)
        // Make reserve() move the unread bytes to the front.
        let shifted = buffer.reserve(buffer.capacity - buffer.readableBytes)
        #expect(shifted == first.count)
        #expect(buffer.readerIndex == 0)
        parser.bufferShifted(by: shifted)
        buffer.append(Array(second[22...]))
        #expect(parser.next(buffer) == .command)
        #expect(parser.withArguments(buffer) { $0.toArrays() } == [bytes("SET"), bytes("key"), bytes("value")])
    }

    @Test func partialInlineSurvivesCompactionAndGrowth() {
        var parser = RESPParser()
        let buffer = ByteBuffer(capacity: 32)
        buffer.append(bytes("PING\r\nSET key \"a b"))
        #expect(parser.next(buffer) == .command)
        parser.commandDone(buffer)
        #expect(parser.next(buffer) == .needMore)
        parser.bufferShifted(by: buffer.reserve(100))
        buffer.append(bytes("\" tail\r\n"))
        #expect(parser.next(buffer) == .command)
        #expect(parser.withArguments(buffer) { $0.toArrays() } == [bytes("SET"), bytes("key"), bytes("a b"), bytes("tail")])
    }
}

@Suite struct RESPParserResetTests {
    @Test func resetForgetsAPartialCommand() {
        for partial in [Array(multibulk("SET", "key", "value")[0..<20]), bytes("SET \"partial")] {
            var parser = RESPParser()
            let buffer = ByteBuffer(capacity: 64)
            buffer.append(partial)
            #expect(parser.next(buffer) == .needMore)
            buffer.clear()
            parser.reset()
            buffer.append(multibulk("GET", "k"))
            #expect(parser.next(buffer) == .command)
            #expect(parser.withArguments(buffer) { $0.toArrays() } == [bytes("GET"), bytes("k")])
        }
    }
}

@Suite struct RESPParserInlineTests {
    private func inline(_ line: String) -> [Parsed] { parseEveryWay(bytes(line)).outcomes }

    @Test func plainWords() {
        #expect(inline("PING\r\n") == [.cmd("PING")])
        #expect(inline("PING\n") == [.cmd("PING")])
        #expect(inline("  SET   a\tb  \r\n") == [.cmd("SET", "a", "b")])
        #expect(inline("GET k\r\nGET j\nGET i\r\n") == [.cmd("GET", "k"), .cmd("GET", "j"), .cmd("GET", "i")])
    }

    @Test func blankLinesAreEmpty() {
        #expect(inline("\r\n") == [.empty])
        #expect(inline("\n") == [.empty])
        #expect(inline("   \t \r\n") == [.empty])
        #expect(inline("\r\n\nPING\r\n") == [.empty, .empty, .cmd("PING")])
    }

    @Test func doubleQuotesAndEscapes() {
        #expect(inline("SET \"a b\" \"\"\r\n") == [.cmd("SET", "a b", "")])
        #expect(inline("ECHO \"\\x41\\x7a\\x7A\"\r\n") == [.cmd("ECHO", "Azz")])
        #expect(inline("ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n") == [.cmd("ECHO", "\n\r\t\u{8}\u{7}\\\"q")])
        // \x followed by non-hex is just an escaped 'x' and the rest.
        #expect(inline("ECHO \"\\xZZ\"\r\n") == [.cmd("ECHO", "xZZ")])
        #expect(parseEveryWay(bytes("ECHO \"\\x00\\xff\"\r\n")).outcomes == [.command([bytes("ECHO"), [0, 0xFF]])])
    }

    @Test func singleQuotes() {
        #expect(inline("SET 'it\\'s' 'a \"b\" \\n'\r\n") == [.cmd("SET", "it's", "a \"b\" \\n")])
        #expect(inline("SET '' x\r\n") == [.cmd("SET", "", "x")])
    }

    @Test func quotesInsideAWordStartQuotedText() {
        // sdssplitargs: a quote in the middle of a token opens quoted text that joins the token.
        #expect(inline("SET a\"b c\" d\r\n") == [.cmd("SET", "ab c", "d")])
    }

    @Test func unbalancedQuotes() {
        let error = Parsed.error("Protocol error: unbalanced quotes in request")
        #expect(inline("SET \"abc\r\n") == [error])
        #expect(inline("SET 'abc\r\n") == [error])
        // A closing quote must be followed by a space or the end of the line.
        #expect(inline("SET \"a\"b\r\n") == [error])
        #expect(inline("SET 'a'b\r\n") == [error])
        #expect(inline("SET \"a\"\"b\"\r\n") == [error])
        // ...where a tab or the line's own CR count as space.
        #expect(inline("SET \"a\"\tb\r\n") == [.cmd("SET", "a", "b")])
        #expect(inline("SET \"a\"\r\n") == [.cmd("SET", "a")])
        // Commands before the bad line still run.
        #expect(inline("PING\r\nSET \"a\r\nPING\r\n") == [.cmd("PING"), error])
    }

    @Test func tooBigInlineRequest() {
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024 + 1)
        #expect(feedAll(big).outcomes == [.error("Protocol error: too big inline request")])
        #expect(feed(big, chunkSize: { _ in 4096 }).outcomes == [.error("Protocol error: too big inline request")])
        // Exactly 64 KB without a newline is still acceptable: the line may end next read.
        let edge = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
        let run = feedAll(edge)
        #expect(run.outcomes == [])
        #expect(run.leftover == edge.count)
    }

    @Test func longInlineLineByteByByteIsLinear() {
        // 60 KB delivered one byte at a time: a parser that rescans the line on every byte
        // would do ~1.8 G byte comparisons; a linear one finishes at once.
        let line = bytes("ECHO ") + [UInt8](repeating: UInt8(ascii: "x"), count: 60 * 1024) + bytes("\r\n")
        let start = ContinuousClock.now
        let run = feedBytewise(line)
        #expect(run.outcomes == [.command([bytes("ECHO"), Array(line[5..<(line.count - 2)])])])
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func nulEndsTheLineAsInC() {
        #expect(parseEveryWay(bytes("GET a") + [0] + bytes(" b\r\n")).outcomes == [.cmd("GET", "a")])
    }
}

@Suite struct RESPParserRandomTests {
    /// Random pipelines of random commands (binary arguments, inline lines with quoting),
    /// fed in random chunks, must parse to exactly the commands that were encoded.
    @Test func randomPipelines() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<40 {
            var input: [UInt8] = []
            var expected: [Parsed] = []
            for _ in 0..<Int.random(in: 1...30, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:
                    let args = (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                        (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    }
                    input += multibulk(args)
                    expected.append(.command(args))
                case 1:
                    // Inline: quoted words with escapes.
                    let words = (0..<Int.random(in: 1...5, using: &rng)).map { _ in
                        (0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 32...126, using: &rng) }
                    }
                    var line: [UInt8] = []
                    for w in words {
                        line += bytes(" \"")
                        for b in w {
                            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { line.append(UInt8(ascii: "\\")) }
                            line.append(b)
                        }
                        line += bytes("\"")
                    }
                    input += line + bytes("\r\n")
                    expected.append(.command(words))
                case 2:
                    input += bytes("\r\n")
                    expected.append(.empty)
                default:
                    input += bytes("*0\r\n")
                    expected.append(.empty)
                }
            }
            let run = feedRandom(input, seed: UInt64(round))
            #expect(run.outcomes == expected, "round \(round)")
            #expect(run.leftover == 0)
            #expect(feedBytewise(input) == run)
        }
    }
}
