"""Small helpers that several parts of the package share: one home each."""

import os
import re
import sys
from collections.abc import Iterator


def command_argv(argv: list[str] | None) -> list[str]:
    """A command's arguments: ``argv`` when given (tests, the ``hf-onelayer`` dispatcher), else the process's."""
    return sys.argv[1:] if argv is None else list(argv)


# A token-like flag's value (--hub_token X, --hub_token=X) and anything shaped like a Hugging Face token.
_SECRETS = (re.compile(r"(--[\w-]*token[\w-]*(?:=|\s+))(?!--)\S+", re.IGNORECASE), re.compile(r"\bhf_[A-Za-z0-9]{16,}"))


def redact(command: str) -> str:
    """``command`` with every token value replaced by ``<redacted>``, for cards, logs and run files."""
    command = _SECRETS[0].sub(r"\1<redacted>", command)
    return _SECRETS[1].sub("<redacted>", command)


def first(dataset, n: int | None):
    """The first ``n`` rows of ``dataset`` (all of them when ``n`` is None)."""
    return dataset if n is None else dataset.select(range(min(n, len(dataset))))


def utf8_lines(path: str, error: type[Exception] = ValueError) -> Iterator[tuple[int, str]]:
    """(line number, text without the line break) for each line of ``path``, read as bytes (:func:`byte_lines`)."""
    with open(path, "rb") as handle:
        yield from byte_lines(handle, path, error)


# A line holding one of these would become two lines somewhere (str.splitlines, an editor) and shift every later pair.
LINE_SEPARATORS = {"\u2028": "U+2028 LINE SEPARATOR", "\u2029": "U+2029 PARAGRAPH SEPARATOR"}


def byte_lines(handle, where: str, error: type[Exception] = ValueError) -> Iterator[tuple[int, str]]:
    """(line number, text without the line break) for each line of a binary stream (a file, stdin's bytes).

    Lines end with LF or CRLF; a stream with no LF at all and CRs (old Mac files) has CR line ends. A UTF-8
    byte-order mark is dropped. A CR inside an LF-ended line, a Unicode line or paragraph separator, or bytes that are
    not UTF-8 raise ``error`` naming ``where``, the line and what to do: split there, a line would become two and
    every later line of a parallel pair would shift.
    """
    number = 0
    for index, raw in enumerate(handle):
        if index == 0:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.endswith(b"\n") and b"\r" in raw:  # no LF anywhere: a first line without one is the whole stream
                pieces = raw.split(b"\r")
                for piece in pieces[:-1] if pieces[-1] == b"" else pieces:
                    number += 1
                    yield number, _checked_line(piece, where, number, error)
                return
        line = raw.removesuffix(b"\n").removesuffix(b"\r")
        number += 1
        if b"\r" in line:
            raise error(f"{where}:{number}: a carriage return (CR) inside the line; lines end with LF or CRLF, so "
                        "it would split this line in two: remove it or make it a space")
        yield number, _checked_line(line, where, number, error)


def _checked_line(line: bytes, where: str, number: int, error: type[Exception]) -> str:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as cause:
        raise error(f"{where}:{number}: not valid UTF-8 ({cause.reason} at byte {cause.start})") from None
    for separator, name in LINE_SEPARATORS.items():
        if separator in text:
            raise error(f"{where}:{number}: a {name} inside the line (column {text.index(separator) + 1}) would "
                        "split it in two: remove it or make it a space")
    return text


def figure(nrows: int = 1, ncols: int = 1, width: float = 4.6, height: float = 3.6):
    """A headless matplotlib (figure, axes grid) of ``nrows`` x ``ncols`` panels, each ``width`` x ``height``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)


def save_figure(fig, path: str, dpi: int = 110) -> str:
    """Write ``fig`` as a PNG at ``path`` (folders made), close it and return the path."""
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
