#!/usr/bin/env python3
# Client side of the egress gateway netns tests, run inside an endpoint's namespace.
#   many N HOST PORT        N concurrent HTTP GETs (all connections open before any request);
#                           prints "ok K" and each distinct body once
#   udp HOST PORT           one UDP exchange; prints "udp ok" when the echo came back
#   hold N HOST PORT SECS   opens N TCP connections (2 s connect timeout each), prints
#                           "open K", sleeps SECS, then sends a GET on the first one and prints
#                           its status line, closes everything
import socket, sys, threading, time

def conn(host, port, timeout=3.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s

def get(s, host):
    s.sendall(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % host).encode())
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    return data.decode(errors="replace")

def many(n, host, port):
    socks, bodies, lock = [None] * n, set(), threading.Lock()
    ok = [0]
    barrier = threading.Barrier(n)
    def one(i):
        try:
            s = conn(host, port, 10.0)
        except Exception:
            s = None
        try:
            barrier.wait(15)
        except Exception:
            pass
        if s is None:
            return
        try:
            r = get(s, host)
            if r.startswith("HTTP/1.0 200"):
                with lock:
                    ok[0] += 1
                    bodies.add(r.split("\r\n\r\n", 1)[1].strip())
        except Exception:
            pass
        finally:
            s.close()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("ok %d" % ok[0])
    for b in sorted(bodies): print(b)

def udp(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.settimeout(1.0)
    for _ in range(5):
        u.sendto(b"weft-egress", (host, port))
        try:
            d, _ = u.recvfrom(2048)
            if d == b"weft-egress":
                print("udp ok"); return
        except socket.timeout:
            pass
    print("udp failed")

def hold(n, host, port, secs):
    socks = []
    for _ in range(n):
        try:
            socks.append(conn(host, port, 2.0))
        except Exception:
            pass
    print("open %d" % len(socks), flush=True)
    time.sleep(secs)
    if socks:
        try:
            print(get(socks[0], host).split("\r\n", 1)[0], flush=True)
        except Exception as e:
            print("get failed: %s" % e, flush=True)
    for s in socks: s.close()

mode = sys.argv[1]
if mode == "many": many(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
elif mode == "udp": udp(sys.argv[2], int(sys.argv[3]))
elif mode == "hold": hold(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
