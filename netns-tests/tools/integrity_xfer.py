#!/usr/bin/env python3
# The two ends of the integrity tests' bulk TCP transfers, one per namespace.
#   recv listen PORT          accepts one connection on [::]:PORT (IPv4 too), prints "ready" once
#   recv connect HOST PORT    connects to HOST:PORT
#       then reads to EOF, hashing as it goes, and prints {"bytes": N, "sha256": HEX, "seconds": S}
#   send listen PORT FILE     accepts one connection on [::]:PORT, prints "ready" once
#   send connect HOST PORT FILE
#       then sends FILE with sendfile(2), shuts down its side and waits for the peer to close
# A connect is retried for up to 15 s (the path may still be settling: neighbours, routes).
import hashlib, json, socket, sys, time

def listen(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    s.close()
    return c

def connect(host, port):
    deadline = time.monotonic() + 15
    while True:
        try:
            return socket.create_connection((host, port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

def recv(c):
    c.settimeout(60)
    h, n, t0 = hashlib.sha256(), 0, time.monotonic()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while True:
        k = c.recv_into(buf)
        if k == 0:
            break
        h.update(view[:k])
        n += k
    c.close()
    print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "seconds": round(time.monotonic() - t0, 2)}), flush=True)

def send(c, path):
    c.settimeout(60)
    with open(path, "rb") as f:
        c.sendfile(f)
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096):
        pass
    c.close()

role, how = sys.argv[1], sys.argv[2]
conn = listen(int(sys.argv[3])) if how == "listen" else connect(sys.argv[3], int(sys.argv[4]))
if role == "recv":
    recv(conn)
else:
    send(conn, sys.argv[-1])
