#!/usr/bin/env python3
"""What each peer sends by default, read off the wire (bench/run's integrity probe).

wiretap.py BACKEND_PORT PORT_OUT LOG: listens on 127.0.0.1 (a free port, written to
PORT_OUT), forwards every connection to 127.0.0.1:BACKEND_PORT byte for byte, and
appends one tab-separated line per request head to LOG: the request kind and the
integrity headers. It follows the request framing (Content-Length, chunked) to find
each head on a kept-alive connection; bodies pass through without being held.
Stops when killed or after two hours.

wiretap.py --summary LOG FROM TO: the lines FROM..TO-1 of LOG as one Markdown cell.
"""
import socket, sys, threading, time
from urllib.parse import urlsplit, parse_qs

KEEP = ("content-md5", "x-amz-content-sha256", "x-amz-trailer", "x-amz-sdk-checksum-algorithm",
        "content-encoding", "transfer-encoding", "expect")


def kind(method, target):
    url = urlsplit(target)
    q = parse_qs(url.query, keep_blank_values=True)
    if "/" not in url.path.strip("/"):
        # Path style: /BUCKET alone is a bucket-level request.
        return method + " bucket" + (" ?" + ",".join(sorted(q)) if q else "")
    if method == "POST" and "uploads" in q:
        return "create-multipart"
    if method == "POST" and "uploadId" in q:
        return "complete-multipart"
    if method == "PUT" and "partNumber" in q:
        return "upload-part"
    if method == "PUT":
        return "put-object"
    return method + (" ?" + ",".join(sorted(q)) if q else "")


def describe(head):
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    h = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            h[k.strip().lower()] = v.strip()
    fields = []
    for k in KEEP:
        if k in h:
            v = h[k]
            if k == "x-amz-content-sha256" and len(v) == 64:
                v = "<sha256 of body>"
            if k == "content-md5":
                v = "<md5>"
            fields.append(f"{k}={v}")
    fields += sorted(k for k in h if k.startswith("x-amz-checksum-"))
    return kind(method, target), h, " ".join(fields)


def pump_requests(src, dst, log, lock):
    buf = b""
    state, left = "head", 0
    while True:
        data = src.recv(262144)
        if not data:
            break
        dst.sendall(data)
        buf += data
        while buf:
            if state == "head":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > 65536:
                        return
                    break
                k, h, fields = describe(buf[:end])
                buf = buf[end + 4:]
                with lock, open(log, "a") as f:
                    f.write(f"{k}\t{fields}\n")
                if "chunked" in h.get("transfer-encoding", ""):
                    state = "size"
                else:
                    state, left = "body", int(h.get("content-length", "0"))
            elif state == "body":
                n = min(left, len(buf))
                buf, left = buf[n:], left - n
                if left:
                    break
                state = "head"
            elif state == "size":
                end = buf.find(b"\r\n")
                if end < 0:
                    break
                size = int(buf[:end].split(b";")[0], 16)
                buf = buf[end + 2:]
                state, left = ("data", size + 2) if size else ("trailer", 0)
            elif state == "data":
                n = min(left, len(buf))
                buf, left = buf[n:], left - n
                if left:
                    break
                state = "size"
            elif state == "trailer":
                end = buf.find(b"\r\n")
                if end < 0:
                    break
                line, buf = buf[:end], buf[end + 2:]
                if not line:
                    state = "head"
                else:
                    with lock, open(log, "a") as f:
                        f.write(f"http-trailer\t{line.split(b':')[0].decode('latin-1').lower()}\n")


def pump(src, dst):
    while True:
        data = src.recv(262144)
        if not data:
            break
        dst.sendall(data)


def serve(backend, port_out, log):
    lock = threading.Lock()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    ls.settimeout(1.0)
    with open(port_out, "w") as f:
        f.write(str(ls.getsockname()[1]))
    deadline = time.monotonic() + 7200
    while time.monotonic() < deadline:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        s = socket.create_connection(("127.0.0.1", backend))

        def up(c=c, s=s):
            try:
                pump_requests(c, s, log, lock)
            except OSError:
                pass
            finally:
                s.shutdown(socket.SHUT_WR)

        def down(c=c, s=s):
            try:
                pump(s, c)
            except OSError:
                pass
            finally:
                c.close()

        threading.Thread(target=up, daemon=True).start()
        threading.Thread(target=down, daemon=True).start()


def summary(log, start, stop):
    """Request kinds with their counts, then the distinct integrity header sets."""
    lines = open(log).read().splitlines()[int(start):int(stop)]
    counts, seen = {}, {}
    for line in lines:
        k, _, fields = line.partition("\t")
        counts[k] = counts.get(k, 0) + 1
        if k in ("put-object", "upload-part", "http-trailer"):
            seen.setdefault(k, set()).add(fields or "(none)")
    out = ", ".join(f"{k} x{n}" for k, n in counts.items())
    for k, fs in seen.items():
        out += f"; {k}: " + " / ".join(sorted(fs))
    return out


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        print(summary(*sys.argv[2:5]))
    else:
        serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
