"""Uploads a file with one HTTP/1.1 PUT using sendfile(2), and prints the seconds from the first
byte sent to the response. curl -T tops out near 0.45 GB/s on this machine even into a sink that
discards everything, so it would measure curl, not the server.

Usage: python3 upload.py FILE URL
"""

import os
import socket
import sys
import time
import urllib.parse


def main():
    path, url = sys.argv[1], urllib.parse.urlparse(sys.argv[2])
    size = os.path.getsize(path)
    sock = socket.create_connection((url.hostname, url.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = (f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n")
    with open(path, "rb") as f:
        start = time.perf_counter()
        sock.sendall(head.encode())
        sent = sock.sendfile(f)
        response = sock.recv(65536)
        elapsed = time.perf_counter() - start
    status = response.split(b" ", 2)[1].decode() if response else "none"
    if sent != size or status != "200":
        raise SystemExit(f"upload failed: sent {sent} of {size} bytes, status {status}: {response[:200]!r}")
    print(f"{elapsed:.3f}")


if __name__ == "__main__":
    main()
