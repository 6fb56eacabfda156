"""A toy key-value server for the connector example of the plugin-author guide (a real TCP server).

One request per line, every argument ``=`` and its bytes in hex (``=`` alone: empty), one reply per line:
``GET ns key`` -> ``V value`` or ``N``; ``SET ns key value`` -> ``OK``; ``DEL ns key`` -> ``1`` or ``0``;
``SCAN ns prefix`` -> ``K key...``; ``SCHEMAS`` -> ``K ns...``; ``PING`` -> ``PONG``.
"""

from __future__ import annotations

import socket
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    server: KVServer

    def handle(self) -> None:
        self.server.clients.add(self.request)
        try:
            for line in self.rfile:
                self.wfile.write(self.server.answer(line.split()) + b"\n")
        except ConnectionResetError:
            pass  # the client went away (closed by its pool, or cut by stop()): nothing left to answer
        finally:
            self.server.clients.discard(self.request)


class KVServer(socketserver.ThreadingTCPServer):
    """Serves ``{namespace: {key: value}}`` on ``127.0.0.1:port`` from a background thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port: int = self.server_address[1]
        self.data: dict[bytes, dict[bytes, bytes]] = {}
        self.lock = threading.Lock()
        self.clients: set[socket.socket] = set()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def answer(self, words: list[bytes]) -> bytes:
        op, args = words[0], [bytes.fromhex(w[1:].decode()) for w in words[1:]]
        with self.lock:
            if op == b"GET":
                value = self.data.get(args[0], {}).get(args[1])
                return b"N" if value is None else b"V =" + value.hex().encode()
            if op == b"SET":
                self.data.setdefault(args[0], {})[args[1]] = args[2]
                return b"OK"
            if op == b"DEL":
                bucket = self.data.get(args[0], {})
                return b"1" if bucket.pop(args[1], None) is not None else b"0"
            if op == b"SCAN":
                keys = [k for k in self.data.get(args[0], {}) if k.startswith(args[1])]
            elif op == b"SCHEMAS":
                keys = [ns for ns, bucket in self.data.items() if ns and bucket]
            else:
                return b"PONG"
            return b" ".join([b"K", *(b"=" + k.hex().encode() for k in keys)])

    def stop(self) -> None:
        """Stop serving: close the listening socket and cut every open connection."""
        self.shutdown()
        self.server_close()
        for client in list(self.clients):
            client.shutdown(socket.SHUT_RDWR)
        self._thread.join()
