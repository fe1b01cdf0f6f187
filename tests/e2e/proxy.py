"""A TCP proxy in front of a server whose links a test can cut abruptly (RST), as a failing
network or a crashing peer would, or hang (open, silent), while the server itself keeps
running; while `refusing`, it resets every new connection too, as a peer that is down
would."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class CuttableProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        self.accepted = 0
        self.refusing = False
        self.hung: set[socket.socket] = set()  # links that pass nothing on any more
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                _reset(client)
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.links += [client, upstream]
                self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if source not in self.hung:
                    sink.sendall(data)
        except OSError:
            pass
        with self.lock:
            # a cut resets; a peer's close passes on, unless the link hangs
            ended_by_a_peer = source in self.links and source not in self.hung
        if ended_by_a_peer:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Reset every link now: no FIN, no goodbye."""
        with self.lock:
            links, self.links = self.links, []
        for sock in links:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)  # wakes the pump blocked in recv, sends nothing
        for sock in links:
            sock.close()  # with linger 0: RST

    def hang(self) -> None:
        """Every link open now stays open and passes nothing on, either way, as a frozen
        peer's would; links made later work."""
        with self.lock:
            self.hung.update(self.links)

    def down(self) -> None:
        """The peer is gone: every link reset, every new connection reset as it comes."""
        self.refusing = True
        self.cut()

    def up(self) -> None:
        """The peer is back: new connections reach it again."""
        self.refusing = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close alone does not
        self.listener.close()
        self._acceptor.join(10)
        self.cut()


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
