"""The package's metrics as ``evaluate`` modules, loaded offline from these files: ``evaluate.load(path("translation_bleu"))``.

* ``translation_bleu``: sacrebleu's corpus BLEU, the interface of the Hub's ``sacrebleu`` module
  (``references``: one list of references per prediction; ``lowercase``, ``tokenize``, ...); the
  config name ``"lowercase"`` makes lowercasing the default.
* ``translation_chrf``: sacrebleu's chrF, the interface of the Hub's ``chrf`` module (config ``"lowercase"`` too).
* (``sacrebleu_common``: what those two share, copied beside them by ``evaluate``; no metric itself.)
* ``token_perplexity``: exp of the mean negative log-likelihood of the scored tokens (``predictions``: one NLL each).
* ``token_accuracy``: share of scored tokens whose predicted id equals the label.
"""

import functools
import os

MODULES = ("translation_bleu", "translation_chrf", "token_perplexity", "token_accuracy")


def path(name: str) -> str:
    """The file of the ``evaluate`` module ``name`` (one of ``MODULES``)."""
    if name not in MODULES:
        raise ValueError(f"unknown metric module {name!r}; one of {MODULES}")
    return os.path.join(os.path.dirname(__file__), f"{name}.py")


@functools.lru_cache(maxsize=None)
def load(name: str, config_name: str | None = None):
    """``evaluate.load`` of one of our modules (cached: loading copies the script into the modules cache)."""
    import evaluate

    return evaluate.load(path(name), config_name=config_name, keep_in_memory=True)
