"""hf-onelayer: a one-layer Transformer translator (German -> English, Multi30k) as a Hugging Face model.

Importing the package registers the config, model and tokenizer with ``AutoConfig``,
``AutoModel`` and ``AutoTokenizer``, and marks them for ``register_for_auto_class`` so that saved
folders carry their code and load with ``trust_remote_code=True`` where this package is absent.
"""

from transformers import AutoConfig, AutoModel, AutoTokenizer

from .models.configuration_onelayer import OneLayerTranslatorConfig
from .models.modeling_onelayer import OneLayerTranslatorModel, OneLayerTranslatorOutput, OneLayerTranslatorPreTrainedModel
from .models.tokenization_onelayer import OneLayerTranslatorTokenizer

__version__ = "0.1.0"

AutoConfig.register(OneLayerTranslatorConfig.model_type, OneLayerTranslatorConfig, exist_ok=True)
AutoModel.register(OneLayerTranslatorConfig, OneLayerTranslatorModel, exist_ok=True)
AutoTokenizer.register(OneLayerTranslatorConfig, tokenizer_class=OneLayerTranslatorTokenizer, exist_ok=True)

OneLayerTranslatorConfig.register_for_auto_class()
OneLayerTranslatorModel.register_for_auto_class("AutoModel")
OneLayerTranslatorTokenizer.register_for_auto_class("AutoTokenizer")

__all__ = [
    "OneLayerTranslatorConfig",
    "OneLayerTranslatorModel",
    "OneLayerTranslatorOutput",
    "OneLayerTranslatorPreTrainedModel",
    "OneLayerTranslatorTokenizer",
]
