"""Push a trained folder to the Hugging Face Hub: weights, tokenizer, remote code and the model card.

    hf-onelayer push --model release --repo_id NAME [--private] [--revision BRANCH] [--exist_ok]

The token comes from ``HF_TOKEN`` or the stored login (``hf auth login``); it is never printed,
logged or written. ``HF_ENDPOINT`` is honoured (huggingface_hub reads it). The folder must hold
``model.safetensors``, ``config.json``, the tokenizer files and the code files that
``save_pretrained`` copies; the card (``README.md``) is generated from the run's metrics when the
folder has none. Pickles (``training_args.bin``), checkpoints and TensorBoard logs are not pushed.
"""

import fnmatch
import json
import logging
import os

from ..errors import UserError

logger = logging.getLogger(__name__)

PUSHED = ("*.safetensors", "config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json",
          "*tokenizer.json", "*.py", "README.md", "all_results.json", "eval_results.json", "test_results.json",
          "train_results.json", "trainer_state.json", "run_args.json")
# besides the code files that config.json's auto_map names (the model's own)
REQUIRED = ("model.safetensors", "config.json", "tokenizer_config.json", "tokenization_onelayer.py")


class PushError(UserError, RuntimeError):
    """A push that cannot go ahead; the message says what to do."""


def files_to_push(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise PushError(f"{folder}: no such folder")
    names = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))
    code = []
    if "config.json" in names:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
            code = [f"{target.split('.')[0]}.py" for target in json.load(handle).get("auto_map", {}).values()]
    missing = [n for n in dict.fromkeys((*REQUIRED, *code)) if n not in names]
    if missing:
        raise PushError(f"{folder}: missing {', '.join(missing)} (save it with save_pretrained, or train it with hf-onelayer)")
    return [n for n in names if any(fnmatch.fnmatch(n, pattern) for pattern in PUSHED)]


def push(folder: str, repo_id: str, private: bool = False, revision: str | None = None, exist_ok: bool = False,
         commit_message: str = "Upload one-layer translator (hf-onelayer push)", timeout_s: float = 60.0) -> str:
    """Create the repo (and branch) and upload ``folder`` in one commit; returns the commit URL.

    A Hub request that gets no answer for ``timeout_s`` seconds fails with ``PushError``.
    """
    from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token, set_client_factory
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils._http import default_client_factory

    names = files_to_push(folder)
    if constants.HF_HUB_OFFLINE:
        raise PushError("HF_HUB_OFFLINE=1 is set, and pushing needs the Hub: unset it (the folder is ready)")
    if "README.md" not in names:
        if not os.path.exists(os.path.join(folder, "all_results.json")):
            raise PushError(f"{folder}: no README.md model card and no all_results.json to write one from "
                            "(hf-onelayer model-card --model ...)")
        from .model_card import build_card

        build_card(folder, "hf-onelayer train (command not recorded)", repo=repo_id).save(
            os.path.join(folder, "README.md"))
        names.append("README.md")
    token = get_token()  # HF_TOKEN, else the stored login
    if not token:
        raise PushError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (the token is never printed)")
    endpoint = constants.ENDPOINT
    api = HfApi(endpoint=endpoint, token=token)

    def client_with_timeout():
        client = default_client_factory()
        client.timeout = timeout_s
        return client

    set_client_factory(client_with_timeout)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=exist_ok)
        repo_id = url.repo_id
        if revision:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        operations = [CommitOperationAdd(path_in_repo=n, path_or_fileobj=os.path.join(folder, n)) for n in names]
        info = api.create_commit(repo_id, operations, commit_message=commit_message, revision=revision)
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status == 409:
            raise PushError(f"repo {repo_id} already exists on {endpoint}; pass --exist_ok to add a commit to it") from None
        if status in (401, 403):
            raise PushError(f"{endpoint} refused the token ({status}): check HF_TOKEN / `hf auth login` and its write access") from None
        raise PushError(f"{endpoint} answered {status}: {_first_line(error)}") from None
    except OSError as error:  # connection refused, DNS, timeouts (httpx errors are not OSErrors)
        raise PushError(f"cannot reach {endpoint} ({type(error).__name__}); check the network or HF_ENDPOINT") from None
    except Exception as error:
        if "Timeout" in type(error).__name__:
            raise PushError(f"{endpoint} gave no answer within {timeout_s:g} s (--timeout_s); check HF_ENDPOINT") from None
        if type(error).__module__.startswith(("httpx", "httpcore", "requests", "urllib3")):
            raise PushError(f"cannot reach {endpoint} ({type(error).__name__}); check the network or HF_ENDPOINT") from None
        raise
    finally:
        set_client_factory(default_client_factory)
    logger.info("pushed %d files to %s", len(names), info.commit_url)
    return info.commit_url


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
