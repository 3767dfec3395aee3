"""Network addresses of a served training: `[tcp://]HOST:PORT`, and whether they are loopback."""

from __future__ import annotations

import ipaddress
import socket

SCHEME = "tcp://"


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """(host, port) of `tcp://HOST:PORT`, `HOST:PORT`, `[V6]:PORT` or `PORT`.

    Raises:
        ValueError: one line naming the text, for anything else.
    """
    rest = text[len(SCHEME) :] if text.startswith(SCHEME) else text
    host, _, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not port.isdigit() or not 0 <= int(port) <= 65535 or any(c in host for c in "/[] "):
        raise ValueError(f"{text!r} is no HOST:PORT address (e.g. tcp://127.0.0.1:7007)")
    return host or default_host, int(port)


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is on the loopback interface (unresolvable: no)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


def url(host: str, port: int) -> str:
    """`tcp://HOST:PORT` for a viewer to use (the machine's name for a wildcard address)."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    return f"{SCHEME}[{host}]:{port}" if ":" in host else f"{SCHEME}{host}:{port}"
