"""Error types raised for bad user input, and how names appear in the one line the CLI prints.

The CLI prints an error as one line and exits with 2. A file name may hold a newline, a tab, an
escape sequence or bytes that are not UTF-8; `quoted` shows such a name as `ls` does, in $'...'
with escapes, so the line stays one line and nothing reaches the terminal as a control code.
"""

from __future__ import annotations

import os

EXIT_BAD_INPUT = 2  # exit code of every command for bad input (one line on stderr)
EXIT_INTERRUPTED = 130  # 128 + SIGINT: Ctrl+C

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
            "\r": "\\r", "\x1b": "\\E", "\\": "\\\\", "'": "\\'"}  # fmt: skip
_SURROGATES = range(0xDC80, 0xDD00)  # os.fsdecode's stand-ins for bytes that are not UTF-8


def _escaped(char: str) -> str:
    """One character as it appears inside $'...'."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code in _SURROGATES:
        return f"\\{code - 0xDC00:03o}"  # the original byte, in octal as ls writes it
    if char.isprintable():
        return char
    return f"\\{code:03o}" if code < 0x100 else f"\\u{code:04x}"


def quoted(name: str | os.PathLike[str]) -> str:
    """`name` as is when every character is printable, else in $'...' with escapes (as `ls`)."""
    text = os.fspath(name)
    if text.isprintable():
        return text
    return "$'" + "".join(_escaped(char) for char in text) + "'"


def visible(line: str) -> str:
    """`line` with every character that is not printable escaped (it stays one line)."""
    if line.isprintable():
        return line
    return "".join(char if char.isprintable() else _escaped(char) for char in line)


class SceneError(ValueError):
    """A scene, camera or path file that cannot be used, with the file it came from."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{quoted(self.path)}: {problem}")
