"""hf-onelayer: small Transformer translators (German -> English, Multi30k) as Hugging Face models.

Two models: the course model (one self-attention layer predicting English token t at German
position t; ``AutoModel``) and the one-layer encoder–decoder (``AutoModelForSeq2SeqLM``, with
``generate()``). Their configs, models and tokenizer register with the Auto classes, and their code is marked for
``register_for_auto_class`` so that saved folders carry it and load with ``trust_remote_code=True`` where this
package is absent.

``import hf_onelayer`` is light: torch and transformers are imported when a name that needs them is used (module
``__getattr__``, as transformers' own lazy modules do), so ``hf-onelayer --help`` and the CTranslate2 engine start
without them. The registrations happen the first time any of our names is used, and also as soon as transformers'
Auto classes or pipelines are imported (``registration.py``): ``import hf_onelayer`` then
``AutoModel.from_pretrained(folder)`` needs no ``trust_remote_code``.
"""

import importlib

from . import registration

__version__ = "0.2.0"

# name -> (module, attribute): the public names, imported on first use
_LAZY = {
    "KINDS": ("kinds", "KINDS"),
    "PIPELINE_TASK": ("models.pipeline_onelayer", "TASK"),
    "OneLayerTranslationPipeline": ("models.pipeline_onelayer", "OneLayerTranslationPipeline"),
    "OneLayerSeq2SeqConfig": ("models.configuration_seq2seq", "OneLayerSeq2SeqConfig"),
    "OneLayerSeq2SeqForConditionalGeneration": ("models.modeling_seq2seq", "OneLayerSeq2SeqForConditionalGeneration"),
    "OneLayerSeq2SeqPreTrainedModel": ("models.modeling_seq2seq", "OneLayerSeq2SeqPreTrainedModel"),
    "OneLayerTranslatorConfig": ("models.configuration_onelayer", "OneLayerTranslatorConfig"),
    "OneLayerTranslatorModel": ("models.modeling_onelayer", "OneLayerTranslatorModel"),
    "OneLayerTranslatorOutput": ("models.modeling_onelayer", "OneLayerTranslatorOutput"),
    "OneLayerTranslatorPreTrainedModel": ("models.modeling_onelayer", "OneLayerTranslatorPreTrainedModel"),
    "OneLayerTranslatorTokenizer": ("models.tokenization_onelayer", "OneLayerTranslatorTokenizer"),
}

__all__ = ["register", *sorted(_LAZY)]
register = registration.register


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    register()
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value  # later uses skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


registration.register_when_transformers_is_used()
