#!/usr/bin/env python3
"""Writes the seed corpus (Tests/Fuzz/corpus/): valid and broken RESP, one input per file.
Byte 0 of every input is the configuration variant (see FuzzEntry.swift)."""
import hashlib, os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

def mb(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

valid = [
    mb("PING"), mb("PING", "hi"), mb("ECHO", "x" * 100), b"PING\r\n", b"SET k v\r\nGET k\r\n",
    b'SET "a b" "c\\x00d\\n"\r\nGET "a b"\r\n', b"\r\n\r\nPING\n",
    mb("SET", "k", "v", "EX", "10") + mb("TTL", "k") + mb("GET", "k"),
    mb("SET", "k", "v", "PX", "5", "NX", "GET") + mb("PEXPIRE", "k", "1", "GT"),
    mb("HSET", "sess:{42}", "user", "alice", "ua", "Mozilla/5.0 " * 10, "csrf", "t0k3n") +
        mb("HGETALL", "sess:{42}") + mb("HINCRBY", "sess:{42}", "hits", "3") + mb("EXPIRE", "sess:{42}", "1800"),
    mb("SADD", "user_sessions:{42}", "a", "b", "c") + mb("SMEMBERS", "user_sessions:{42}") + mb("SREM", "user_sessions:{42}", "b"),
    mb("MULTI") + mb("SET", "a", "1") + mb("INCR", "a") + mb("EXEC"),
    mb("WATCH", "a") + mb("MULTI") + mb("DEL", "a") + mb("DISCARD"),
    mb("SUBSCRIBE", "ch") + mb("PING") + mb("UNSUBSCRIBE") + mb("PUBLISH", "ch", "m"),
    mb("HELLO", "3") + mb("HGETALL", "h") + mb("CLIENT", "INFO"),
    mb("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me"), mb("AUTH", "pw") + mb("SET", "x", "y"),
    mb("AUTH", "wrong") + mb("GET", "x"),
    mb("INFO") + mb("COMMAND", "COUNT") + mb("CONFIG", "GET", "max*") + mb("DBSIZE"),
    mb("SELECT", "3") + mb("SET", "k", "v") + mb("SWAPDB", "0", "3") + mb("FLUSHDB"),
    mb("KEYS", "*[a-c]?\\*") + mb("SCAN", "0", "MATCH", "k*", "COUNT", "10"),
    mb("MSET", "a", "1", "b", "2") + mb("MGET", "a", "b", "c") + mb("RENAME", "a", "z") + mb("COPY", "z", "y"),
    mb("SETRANGE", "s", "10", "abc") + mb("GETRANGE", "s", "0", "-1") + mb("APPEND", "s", "x") + mb("INCRBYFLOAT", "f", "1.5e3"),
    mb("CLIENT", "REPLY", "OFF") + mb("SET", "q", "1") + mb("CLIENT", "REPLY", "ON"),
    mb("OBJECT", "ENCODING", "k") + mb("MEMORY", "USAGE", "k") + mb("TYPE", "k"),
    b"".join(mb("SET", "key:%d" % i, "v" * 300) for i in range(40)),  # with maxmemory: evictions
    b"".join(mb("SET", "t:%d" % i, "v" * 300, "EX", str(100 + i)) for i in range(40)),
    mb("HELLO", "3") + mb("CLIENT", "TRACKING", "on", "NOLOOP") + mb("GET", "k") + mb("SET", "k", "v") +
        mb("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a") + mb("CLIENT", "TRACKING", "off") +
        mb("CLIENT", "TRACKING", "on", "OPTIN") + mb("CLIENT", "CACHING", "yes") + mb("MGET", "k", "j") +
        mb("CLIENT", "TRACKINGINFO") + mb("CLIENT", "GETREDIR") + mb("FLUSHALL"),
    mb("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "ab") + mb("CLIENT", "TRACKING", "on", "REDIRECT", "1") +
        mb("CONFIG", "SET", "tracking-table-max-keys", "2") + mb("GET", "a") + mb("GET", "b") + mb("GET", "c"),
]
# HTTP inputs (mode & 0x78 == 0x70, see FuzzHTTP.swift).
http = [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n",
    b"POST /sessions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 63\r\n\r\n"
        b'{"userId":"u1","idle":1800,"fields":{"role":"user","n":1.5e3}}',
    b"PATCH /sessions/abc HTTP/1.1\r\nX-CSRF-Token: t\r\nContent-Length: 16\r\n\r\n{\"a\":\"\\u00e9\"}",
    b"DELETE /users/alice%40example.com/sessions HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /users/a/sessions HTTP/1.1\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer pw\r\n\r\n",
    b"\r\nPUT /sessions/x?y=1 HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n{}",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", b"GET / HTTP/2.0\r\n\r\n", b"G / HTTP/1.1\nX:y\r\n\r\n",
]
broken = [
    b"*", b"*-1\r\n", b"*0\r\n", b"*1\r\n", b"*1\r\n$", b"*1\r\n$-1\r\n", b"*1\r\n$4\r\nPIN",
    b"*1\r\n$4\r\nPINGxx", b"*2\r\n$3\r\nGET\r\n:1\r\n", b"*abc\r\n", b"*1\r\n$abc\r\n",
    b"*99999999999999999999\r\n", b"*1\r\n$536870911\r\n", b"*1\r\n$2147483648\r\n",
    b"*1025\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n", b"$4\r\nPING\r\n",
    b'SET "unterminated\r\n', b"SET 'a\\'\r\n", b"\x00\xff\r\n", b"*1\r\n$4\r\nPING\n\n",
    b"x" * 5000 + b"\r\n", b"*\r\n", b"*1\r\n$\r\n", b"*1\r\n$+1\r\nx\r\n", b"*1\r\n$ 1\r\nx\r\n",
    b"*2\r\n$4\r\nPING\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING",
    mb("SET") + mb("HSET", "h", "f") + mb("NOSUCHCOMMAND", "a" * 200) + mb("CLIENT", "NOPE"),
    mb("SET", "k", "v", "EX", "-1") + mb("EXPIRE", "k", "9223372036854775807") + mb("SET", "k", "v", "EX", "99999999999999999"),
    mb("INCRBY", "n", "9223372036854775807") + mb("INCR", "n") + mb("HINCRBYFLOAT", "h", "f", "nan"),
]
os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))
n = 0
for i, body in enumerate(valid + broken):
    # Each input under a few configuration variants: plain, byte-wise, password, maxmemory+LRU, RESP3.
    for mode in (0x00, 0x01, 0x07, 0x18, 0x3B, 0x80):
        data = bytes([mode]) + body
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
        n += 1
for body in http:
    for mode in (0x70, 0x71, 0x74, 0x73):
        data = bytes([mode]) + body
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
        n += 1
print(f"wrote {n} inputs to {OUT}")
