import Testing
@testable import Sesame

@Suite struct ReplyWriterTests {
    private func reply(resp3: Bool, _ body: (ReplyWriter) -> Void) -> String {
        let out = ByteBuffer(capacity: 16)
        body(ReplyWriter(out: out, resp3: resp3))
        return out.readableArray.text
    }

    private func both(_ body: (ReplyWriter) -> Void) -> (resp2: String, resp3: String) {
        (reply(resp3: false, body), reply(resp3: true, body))
    }

    @Test func sameInBothVersions() {
        for resp3 in [false, true] {
            #expect(reply(resp3: resp3) { $0.ok() } == "+OK\r\n")
            #expect(reply(resp3: resp3) { $0.simple("PONG") } == "+PONG\r\n")
            #expect(reply(resp3: resp3) { $0.integer(-7) } == ":-7\r\n")
            #expect(reply(resp3: resp3) { $0.integer(Int64.min) } == ":-9223372036854775808\r\n")
            #expect(reply(resp3: resp3) { $0.bulk(bytes("a\r\nb")) } == "$4\r\na\r\nb\r\n")
            #expect(reply(resp3: resp3) { $0.bulk([]) } == "$0\r\n\r\n")
            #expect(reply(resp3: resp3) { $0.arrayHeader(0) } == "*0\r\n")
            #expect(reply(resp3: resp3) { $0.error("ERR syntax error") } == "-ERR syntax error\r\n")
        }
    }

    @Test func null() {
        #expect(both { $0.null() } == ("$-1\r\n", "_\r\n"))
        #expect(both { $0.nullArray() } == ("*-1\r\n", "_\r\n"))
    }

    @Test func map() {
        let r = both { w in
            w.mapHeader(2)
            w.bulk(bytes("a")); w.bulk(bytes("1"))
            w.bulk(bytes("b")); w.integer(2)
        }
        #expect(r.resp2 == "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n:2\r\n")
        #expect(r.resp3 == "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n:2\r\n")
        #expect(both { $0.mapHeader(0) } == ("*0\r\n", "%0\r\n"))
    }

    @Test func set() {
        #expect(both { $0.setHeader(3) } == ("*3\r\n", "~3\r\n"))
    }

    @Test func boolean() {
        #expect(both { $0.boolean(true) } == (":1\r\n", "#t\r\n"))
        #expect(both { $0.boolean(false) } == (":0\r\n", "#f\r\n"))
    }

    @Test func verbatim() {
        let text = "# Server\r\nredis_version:7.2.0\r\n"
        let r = both { $0.verbatim(text) }
        #expect(r.resp2 == "$\(text.utf8.count)\r\n\(text)\r\n")
        #expect(r.resp3 == "=\(text.utf8.count + 4)\r\ntxt:\(text)\r\n")
        #expect(both { $0.verbatim("") } == ("$0\r\n\r\n", "=4\r\ntxt:\r\n"))
    }

    @Test func errorTextCannotBreakFraming() {
        #expect(reply(resp3: false) { $0.error(string: "ERR bad\r\nthing\nhere\r") } == "-ERR bad  thing here \r\n")
        #expect(reply(resp3: true) { $0.error(string: "ERR unknown command 'a\rb'") } == "-ERR unknown command 'a b'\r\n")
    }

    @Test func simpleStringFromText() {
        #expect(reply(resp3: false) { $0.simple(string: "OK done") } == "+OK done\r\n")
    }
}

@Suite struct AppendDecimalTests {
    @Test(arguments: [0, 1, -1, 9, 10, -10, 99, 100, 123_456_789, -987_654_321, Int.max, Int.min, Int.max - 1, Int.min + 1])
    func matchesDescription(_ v: Int) {
        let out = ByteBuffer(capacity: 16)
        out.appendDecimal(v)
        #expect(out.readableArray.text == String(v))
    }

    @Test func appendsAfterExistingBytesAndGrows() {
        let out = ByteBuffer(capacity: 16)
        out.append(bytes("0123456789abcde"))  // leaves 1 spare byte
        out.appendDecimal(Int.min)
        out.appendDecimal(7)
        #expect(out.readableArray.text == "0123456789abcde-92233720368547758087")
    }
}
