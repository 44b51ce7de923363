#!/usr/bin/env python3
"""Holds N idle RESP connections open against a server (Benchmarks/soak.sh).

Opens N sockets, sends one PING on each and checks the +PONG (so every connection is really
accepted and served), then idles until stdin closes or SIGTERM, and finally PINGs every
connection again and prints how many were still served: an idle connection must neither be
dropped (timeout is 0 by default) nor slow the loops down.
"""
import resource
import select
import signal
import socket
import sys
import time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 256), hard))

socks = []
t0 = time.time()
for i in range(count):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    socks.append(s)
for s in socks:
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
ok = 0
for s in socks:
    s.settimeout(10)
    if s.recv(16) == b"+PONG\r\n":
        ok += 1
print(f"idle: {ok}/{count} connections open and answered PING in {time.time() - t0:.1f} s", flush=True)

stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
while not stop:
    r, _, _ = select.select([sys.stdin], [], [], 1.0)
    if r and not sys.stdin.read(1):
        break

alive = 0
for s in socks:
    try:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        s.settimeout(10)
        if s.recv(16) == b"+PONG\r\n":
            alive += 1
    except OSError:
        pass
print(f"idle: {alive}/{count} connections still served at the end", flush=True)
for s in socks:
    s.close()
