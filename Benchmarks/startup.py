#!/usr/bin/env python3
"""Startup time of an empty server: from exec to the first byte of its ready line (Sesame's
JSON line on stdout) or, for redis-server, to the first PING answered. Medians of N runs."""
import socket, statistics, subprocess, sys, time

def sesame(binary, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen([binary, "--port", "0", "--loglevel", "warning"], stdout=subprocess.PIPE)
        p.stdout.readline()
        times.append(time.perf_counter() - t0)
        p.terminate(); p.wait()
    return times

def redis(runs, port=7499):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL)
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=0.05)
                s.sendall(b"PING\r\n"); s.recv(16); s.close(); break
            except OSError:
                time.sleep(0.0005)
        times.append(time.perf_counter() - t0)
        p.terminate(); p.wait()
    return times

if __name__ == "__main__":
    binary = sys.argv[1] if len(sys.argv) > 1 else ".build/release/sesame-server"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    s = sesame(binary, runs)
    r = redis(runs)
    print(f"sesame-server startup: median {statistics.median(s)*1000:.1f} ms, max {max(s)*1000:.1f} ms ({runs} runs)")
    print(f"redis-server  startup: median {statistics.median(r)*1000:.1f} ms, max {max(r)*1000:.1f} ms ({runs} runs)")
