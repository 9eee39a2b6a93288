"""``hf-onelayer explore``: the attention explorer in the browser (Gradio, ``pip install hf-onelayer[explore]``).

    hf-onelayer explore                                   # the released models, http://127.0.0.1:7860
    hf-onelayer explore --model runs/seq2seq --port 7861
"""

import os
from dataclasses import dataclass, field

from ..arguments import parse
from . import require_at_least_one
from ..errors import UserError
from ..kinds import COURSE, SEQ2SEQ
from ..translation import default_model


@dataclass
class ExploreArguments:
    model: list[str] = field(default_factory=list, metadata={
        "help": "saved model folders or Hub ids (default: release/seq2seq and release/course, where present)"})
    host: str = field(default="127.0.0.1", metadata={"help": "address to serve on (0.0.0.0: every interface)"})
    port: int = field(default=7860, metadata={"help": "port to serve on"})
    num_beams: int = field(default=5, metadata={"help": "beam width of the page's first setting and of the "
                                                        "/translate endpoint"})


def released_models() -> list[str]:
    """The released folders that exist: the encoder-decoder, then the course model."""
    return [path for path in (default_model(SEQ2SEQ.name), default_model(COURSE.name))
            if os.path.isfile(os.path.join(path, "config.json"))]


def main(argv: list[str] | None = None):
    (args,) = parse(ExploreArguments, argv, "hf-onelayer explore")
    require_at_least_one({"num_beams": args.num_beams})
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be in 1..65535, got {args.port}")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UserError("explore needs gradio: pip install 'hf-onelayer[explore]'") from None
    from ..explorer import Explorer, build_app

    app = build_app(Explorer(args.model or released_models(), args.num_beams))
    try:
        app.launch(server_name=args.host, server_port=args.port, show_error=False, footer_links=["api"])
    except OSError as error:  # the port is taken
        raise UserError(f"--port {args.port}: {' '.join(str(error).split())}") from None
