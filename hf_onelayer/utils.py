"""Small helpers that several parts of the package share: one home each."""

import os
import sys
from collections.abc import Iterator


def command_argv(argv: list[str] | None) -> list[str]:
    """A command's arguments: ``argv`` when given (tests, the ``hf-onelayer`` dispatcher), else the process's."""
    return sys.argv[1:] if argv is None else list(argv)


def first(dataset, n: int | None):
    """The first ``n`` rows of ``dataset`` (all of them when ``n`` is None)."""
    return dataset if n is None else dataset.select(range(min(n, len(dataset))))


def utf8_lines(path: str, error: type[Exception] = ValueError) -> Iterator[tuple[int, str]]:
    """(line number, text without the line break) for each line of ``path``, read as bytes.

    A line that is not UTF-8 raises ``error`` naming the file, line and byte.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
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
