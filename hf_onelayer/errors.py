"""Errors that are the user's to fix: a flag, a file, a config value, the network.

``hf-onelayer`` prints such an error as one line (``hf-onelayer COMMAND: message``) and exits with
code 2; anything else is our bug and keeps its traceback. ``--debug`` shows the traceback always.
"""

import sys


class UserError(ValueError):
    """Bad input; the message names the file and line, the field or the flag at fault."""


# Raised by the self-contained model files (they cannot import this module): recognised by name.
USER_ERROR_NAMES = {"OneLayerConfigError", "StrictDataclassFieldValidationError"}
# OS errors that mean "the path you gave is wrong", not a fault of ours.
USER_OS_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, ConnectionError,
                  TimeoutError)


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is the user's to fix (then the CLI prints one line, no traceback)."""
    return isinstance(error, (UserError, *USER_OS_ERRORS)) or any(
        cls.__name__ in USER_ERROR_NAMES for cls in type(error).__mro__)


def one_line(error: BaseException) -> str:
    """The error's message on one line (libraries' multi-line messages joined)."""
    return " ".join(str(error).split()) or type(error).__name__


def report(prog: str, error: BaseException) -> int:
    """Print ``error`` as one line on stderr; the exit code for a user error (2)."""
    print(f"{prog}: {one_line(error)}", file=sys.stderr)
    return 2
