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
    """(line number, text without the line break) for each line of ``path``, read as bytes.

    Lines end with LF, CRLF or a lone CR (old Mac files); a UTF-8 byte-order mark is dropped. A line
    that is not UTF-8 raises ``error`` naming the file, line and byte.
    """
    number = 0
    with open(path, "rb") as handle:
        for raw in handle:
            if number == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            for line in raw.splitlines() or [b""]:  # splits a CR-only file into its lines
                number += 1
                try:
                    yield number, line.decode("utf-8")
                except UnicodeDecodeError as cause:
                    raise error(f"{path}:{number}: not valid UTF-8 ({cause.reason} at byte {cause.start})") from None


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
