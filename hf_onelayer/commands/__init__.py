"""The ``hf-onelayer`` commands: each parses its flags with HfArgumentParser and calls the library (``translate``,
which must start without transformers for the CTranslate2 engine, with :func:`parse_light`)."""

import argparse
import dataclasses
import types
import typing

from ..errors import UserError

MODEL_HELP = "saved model folder or Hub id (default: the released encoder-decoder, release/seq2seq in the repository)"


def require_at_least_one(values: dict) -> None:
    """``UserError`` naming the first flag of ``values`` (flag -> value, None = not given) that is below 1."""
    for flag, value in values.items():
        if value is not None and value < 1:
            raise UserError(f"--{flag} must be >= 1, got {value}")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, as arguments.Parser (HfArgumentParser) gives
        raise UserError(f"{message} (--help lists the flags)")


def parse_light(dataclass_type, argv: list[str], prog: str):
    """(``dataclass_type`` instance, the remaining strings) from ``argv``: HfArgumentParser's reading of a dataclass
    of str, int, float and Literal fields (None allowed), with the standard library's argparse alone. It exists
    because HfArgumentParser lives in transformers, whose import alone takes most of a second."""
    parser = _Parser(prog=prog, allow_abbrev=False)
    for f in dataclasses.fields(dataclass_type):
        kind = f.type
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        options = {"choices": list(typing.get_args(kind)), "type": str} if typing.get_origin(kind) is typing.Literal \
            else {"type": kind}
        if options["type"] not in (str, int, float):
            raise TypeError(f"parse_light: field {f.name} of type {f.type} is not supported")
        default = f.default if f.default is not dataclasses.MISSING else None
        parser.add_argument(f"--{f.name}", default=default, help=f.metadata.get("help"), **options)
    namespace, remaining = parser.parse_known_args(argv)
    return dataclass_type(**vars(namespace)), remaining
