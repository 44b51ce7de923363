// The HTTP/1.1 request parser and the JSON reader: valid requests however they are chunked,
// keep-alive rules, every limit, the strictness that prevents smuggling, and random input
// that must never crash (the libFuzzer target covers this at scale, Tests/Fuzz).

import Testing
@testable import Sesame

/// Feeds `input` in chunks and collects every outcome, as HTTPServer does.
private func parseAll(_ input: [UInt8], limits: HTTPLimits = HTTPLimits(), chunk: (Int) -> Int = { $0 }) -> [HTTPParseResult] {
    var parser = HTTPParser(limits: limits)
    var buffer: [UInt8] = []
    var out: [HTTPParseResult] = []
    var pos = 0
    while pos < input.count {
        let n = min(max(1, chunk(input.count - pos)), input.count - pos)
        buffer += input[pos..<(pos + n)]
        pos += n
        loop: while true {
            let r = parser.next(buffer)
            switch r {
            case .needMore: break loop
            case .request(_, let consumed):
                out.append(r)
                buffer.removeFirst(consumed)
            case .error:
                out.append(r)
                return out
            }
        }
    }
    return out
}

private func requests(_ results: [HTTPParseResult]) -> [HTTPRequest] {
    results.compactMap { if case .request(let r, _) = $0 { r } else { nil } }
}

private func status(_ results: [HTTPParseResult]) -> Int? {
    for r in results { if case .error(let e) = r { return e.status } }
    return nil
}

@Suite("HTTP/1.1 request parser")
struct HTTPParserTests {
    let post = Array("POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"userId\":\"u\"}".utf8)

    @Test("a request with a body, whole, byte by byte and in random chunks, gives the same result")
    func chunking() {
        let whole = requests(parseAll(post))
        #expect(whole.count == 1)
        let r = whole[0]
        #expect(r.method == "POST" && r.path == "/sessions" && r.query == "" && r.minorVersion == 1)
        #expect(r.header("content-type") == "application/json")
        #expect(r.body == Array("{\"userId\":\"u\"}".utf8))
        #expect(r.keepAlive)
        #expect(requests(parseAll(post) { _ in 1 }) == whole)
        var rng = SplitMix64(seed: 7)
        for _ in 0..<50 {
            #expect(requests(parseAll(post) { _ in Int.random(in: 1...9, using: &rng) }) == whole)
        }
    }

    @Test("pipelined requests, a leading empty line, query strings")
    func pipelining() {
        let input = Array("\r\nGET /a?x=1 HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n".utf8) + post
        let rs = requests(parseAll(input))
        #expect(rs.map(\.path) == ["/a", "/b", "/sessions"])
        #expect(rs[0].query == "x=1")
        #expect(rs[1].keepAlive == false)
    }

    @Test("keep-alive: HTTP/1.1 by default, HTTP/1.0 only when asked")
    func keepAlive() {
        func ka(_ s: String) -> Bool? { requests(parseAll(Array(s.utf8))).first?.keepAlive }
        #expect(ka("GET / HTTP/1.1\r\n\r\n") == true)
        #expect(ka("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n") == false)
        #expect(ka("GET / HTTP/1.0\r\n\r\n") == false)
        #expect(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") == true)
    }

    @Test("malformed requests are refused with the right status", arguments: [
        ("GET / HTTP/1.1\nHost: x\r\n\r\n", 400),              // bare LF
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),           // space before the colon
        ("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400),         // obsolete line folding
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nA: b\u{1}c\r\n\r\n", 400),         // control character in a value
        ("GET  / HTTP/1.1\r\n\r\n", 400),
        ("GET http://x/ HTTP/1.1\r\n\r\n", 400),               // absolute-form target
        ("G(T / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\n\r\n", 505),
        ("GET / FTP/1.1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", 413),
    ])
    func refused(_ input: String, _ expected: Int) {
        #expect(status(parseAll(Array(input.utf8))) == expected, "\(input.debugDescription)")
    }

    @Test("equal repeated Content-Length values are accepted (RFC 9112 6.3)")
    func repeatedLength() {
        let rs = requests(parseAll(Array("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nab".utf8)))
        #expect(rs.first?.body == Array("ab".utf8))
    }

    @Test("header block and header count limits: 431, even before the blank line arrives")
    func headerLimits() {
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 1024
        limits.maxHeaderCount = 4
        let big = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 2000)
        #expect(status(parseAll(Array(big.utf8), limits: limits)) == 431)
        let many = "GET / HTTP/1.1\r\n" + (0..<5).map { "H\($0): v\r\n" }.joined() + "\r\n"
        #expect(status(parseAll(Array(many.utf8), limits: limits)) == 431)
        let four = "GET / HTTP/1.1\r\n" + (0..<4).map { "H\($0): v\r\n" }.joined() + "\r\n"
        #expect(requests(parseAll(Array(four.utf8), limits: limits)).count == 1)
    }

    @Test("percent-decoding of a path segment")
    func percent() {
        #expect(HTTPParser.percentDecode("user%40example.com") == Array("user@example.com".utf8))
        #expect(HTTPParser.percentDecode("a%2Fb") == nil)   // would split the segment
        #expect(HTTPParser.percentDecode("a%00") == nil)
        #expect(HTTPParser.percentDecode("a%4") == nil)
        #expect(HTTPParser.percentDecode("a%zz") == nil)
    }

    @Test("random bytes and mutated requests never crash and never loop")
    func randomInput() {
        var rng = SplitMix64(seed: 42)
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 1024
        limits.maxBodyBytes = 256
        let seeds = [post, Array("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n".utf8)]
        for i in 0..<3000 {
            var input = seeds[i % seeds.count]
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let p = Int.random(in: 0..<input.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: input[p] = UInt8.random(in: 0...255, using: &rng)
                case 1: input.insert(UInt8.random(in: 0...255, using: &rng), at: p)
                default: if input.count > 1 { input.remove(at: p) }
                }
            }
            _ = parseAll(input, limits: limits) { _ in Int.random(in: 1...16, using: &rng) }
        }
    }
}

@Suite("JSON reader and writer")
struct JSONTests {
    @Test("objects, escapes, numbers, nesting; what is not JSON is nil")
    func parse() {
        let v = JSONValue.parse(Array(#"{"a":"x\"y\u00e9\ud83d\ude00","n":-1.5e3,"t":true,"z":null,"o":{"k":[1,2]}}"#.utf8))
        #expect(v?["a"] == .string("x\"yé😀"))
        #expect(v?["n"] == .number("-1.5e3"))
        #expect(v?["t"] == .bool(true))
        #expect(v?["z"] == .null)
        #expect(v?["o"]?["k"] == .array([.number("1"), .number("2")]))
        for bad in ["", "{", "{\"a\"}", "{\"a\":}", "[1,]", "01", "\"\\x\"", "{\"a\":1} x", "\"\u{1}\"", "\"\\ud800\""] {
            #expect(JSONValue.parse(Array(bad.utf8)) == nil, "\(bad.debugDescription)")
        }
        #expect(JSONValue.parse(Array(String(repeating: "[", count: 100).utf8)) == nil)
        #expect(JSONValue.parse([0x22, 0xff, 0x22]) == nil)  // invalid UTF-8
    }

    @Test("encoding escapes what JSON requires")
    func encode() {
        let v = JSONValue.object([("k", .string("a\"b\\c\n\u{1}")), ("n", .number("3")), ("l", .array([.bool(false), .null]))])
        #expect(v.encoded == #"{"k":"a\"b\\c\n\u0001","n":3,"l":[false,null]}"#)
        #expect(JSONValue.parse(Array(v.encoded.utf8)) == v)
    }
}
