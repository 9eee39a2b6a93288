"""Push a trained folder to the Hugging Face Hub: weights, tokenizer, remote code and the model card.

    hf-onelayer push --model release --repo_id NAME [--private] [--revision BRANCH] [--exist_ok]

The token comes from ``HF_TOKEN`` or the stored login (``hf auth login``); it is never printed,
logged or written. ``HF_ENDPOINT`` is honoured (huggingface_hub reads it). The folder must hold
``model.safetensors``, ``config.json``, the tokenizer files and the code files that
``save_pretrained`` copies; the card (``README.md``) is generated from the run's metrics when the
folder has none. Pickles (``training_args.bin``), checkpoints and TensorBoard logs are not pushed.
"""

import fnmatch
import logging
import os
import sys
from dataclasses import dataclass, field

from .arguments import parse

logger = logging.getLogger(__name__)

PUSHED = ("*.safetensors", "config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json",
          "*tokenizer.json", "*.py", "README.md", "all_results.json", "eval_results.json", "test_results.json",
          "train_results.json", "trainer_state.json", "run_args.json")
REQUIRED = ("model.safetensors", "config.json", "tokenizer_config.json", "modeling_onelayer.py",
            "configuration_onelayer.py", "tokenization_onelayer.py")


class PushError(RuntimeError):
    """A push that cannot go ahead; the message says what to do."""


@dataclass
class PushArguments:
    model: str = field(metadata={"help": "a saved model folder (e.g. release/ or runs/default)"})
    repo_id: str = field(metadata={"help": "NAME or NAMESPACE/NAME on the Hub"})
    private: bool = field(default=False, metadata={"help": "create the repo as private"})
    revision: str | None = field(default=None, metadata={"help": "push to this branch (created from main if missing)"})
    exist_ok: bool = field(default=False, metadata={"help": "add a commit to an existing repo instead of failing"})
    commit_message: str = "Upload one-layer translator (hf-onelayer push)"


def files_to_push(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise PushError(f"{folder}: no such folder")
    names = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise PushError(f"{folder}: missing {', '.join(missing)} (save it with save_pretrained, or train it with hf-onelayer)")
    return [n for n in names if any(fnmatch.fnmatch(n, pattern) for pattern in PUSHED)]


def push(args: PushArguments) -> str:
    """Create the repo (and branch) and upload the folder in one commit; returns the commit URL."""
    from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token
    from huggingface_hub.errors import HfHubHTTPError

    names = files_to_push(args.model)
    if "README.md" not in names:
        if not os.path.exists(os.path.join(args.model, "all_results.json")):
            raise PushError(f"{args.model}: no README.md model card and no all_results.json to write one from "
                            "(hf-onelayer model-card --model ...)")
        from .model_card import build_card

        build_card(args.model, "hf-onelayer train (command not recorded)", repo=args.repo_id).save(
            os.path.join(args.model, "README.md"))
        names.append("README.md")
    token = get_token()  # HF_TOKEN, else the stored login
    if not token:
        raise PushError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (the token is never printed)")
    endpoint = constants.ENDPOINT
    api = HfApi(endpoint=endpoint, token=token)
    try:
        url = api.create_repo(args.repo_id, private=args.private, exist_ok=args.exist_ok)
        repo_id = url.repo_id
        if args.revision:
            api.create_branch(repo_id, branch=args.revision, exist_ok=True)
        operations = [CommitOperationAdd(path_in_repo=n, path_or_fileobj=os.path.join(args.model, n)) for n in names]
        info = api.create_commit(repo_id, operations, commit_message=args.commit_message, revision=args.revision)
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status == 409:
            raise PushError(f"repo {args.repo_id} already exists on {endpoint}; pass --exist_ok to add a commit to it") from None
        if status in (401, 403):
            raise PushError(f"{endpoint} refused the token ({status}): check HF_TOKEN / `hf auth login` and its write access") from None
        raise PushError(f"{endpoint} answered {status}: {_first_line(error)}") from None
    except OSError as error:  # connection refused, DNS, timeouts (httpx errors are not OSErrors)
        raise PushError(f"cannot reach {endpoint} ({type(error).__name__}); check the network or HF_ENDPOINT") from None
    except Exception as error:
        if type(error).__module__.startswith(("httpx", "httpcore", "requests", "urllib3")):
            raise PushError(f"cannot reach {endpoint} ({type(error).__name__}); check the network or HF_ENDPOINT") from None
        raise
    logger.info("pushed %d files to %s", len(names), info.commit_url)
    return info.commit_url


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def main(argv: list[str] | None = None) -> str:
    (args,) = parse(PushArguments, sys.argv[1:] if argv is None else argv, "hf-onelayer push")
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        url = push(args)
    except PushError as error:
        raise SystemExit(f"hf-onelayer push: {error}") from None
    print(url)
    return url


if __name__ == "__main__":
    main()
