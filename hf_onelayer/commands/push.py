"""``hf-onelayer push``: push a saved model (weights, tokenizer, code, card) to the Hub; token from HF_TOKEN.

    hf-onelayer push --model release --repo_id NAME [--private] [--revision BRANCH] [--exist_ok]
"""

import logging
from dataclasses import dataclass, field

from ..arguments import parse
from ..hub.push import push


@dataclass
class PushArguments:
    model: str = field(metadata={"help": "a saved model folder (e.g. release/ or runs/default)"})
    repo_id: str = field(metadata={"help": "NAME or NAMESPACE/NAME on the Hub"})
    private: bool = field(default=False, metadata={"help": "create the repo as private"})
    revision: str | None = field(default=None, metadata={"help": "push to this branch (created from main if missing)"})
    exist_ok: bool = field(default=False, metadata={"help": "add a commit to an existing repo instead of failing"})
    commit_message: str = "Upload one-layer translator (hf-onelayer push)"
    timeout_s: float = field(default=60.0, metadata={"help": "give up on a Hub request that gets no answer for this long"})


def main(argv: list[str] | None = None) -> str:
    (args,) = parse(PushArguments, argv, "hf-onelayer push")
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    url = push(args.model, args.repo_id, args.private, args.revision, args.exist_ok, args.commit_message,
               timeout_s=args.timeout_s)  # a PushError is one line from the CLI
    print(url)
    return url
