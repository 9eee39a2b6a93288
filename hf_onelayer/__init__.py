"""hf-onelayer: small Transformer translators (German -> English, Multi30k) as Hugging Face models.

Two models: the course model (one self-attention layer predicting English token t at German
position t; ``AutoModel``) and the one-layer encoder–decoder (``AutoModelForSeq2SeqLM``, with
``generate()``). Importing the package registers their configs, models and tokenizer with the Auto
classes, and marks them for ``register_for_auto_class`` so that saved folders carry their code and
load with ``trust_remote_code=True`` where this package is absent.
"""

from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer
from transformers.pipelines import PIPELINE_REGISTRY

from .models.configuration_onelayer import OneLayerTranslatorConfig
from .models.configuration_seq2seq import OneLayerSeq2SeqConfig
from .models.modeling_onelayer import OneLayerTranslatorModel, OneLayerTranslatorOutput, OneLayerTranslatorPreTrainedModel
from .models.modeling_seq2seq import OneLayerSeq2SeqForConditionalGeneration, OneLayerSeq2SeqPreTrainedModel
from .models.pipeline_onelayer import TASK as PIPELINE_TASK
from .models.pipeline_onelayer import OneLayerTranslationPipeline
from .models.tokenization_onelayer import OneLayerTranslatorTokenizer

__version__ = "0.2.0"

AutoConfig.register(OneLayerTranslatorConfig.model_type, OneLayerTranslatorConfig, exist_ok=True)
AutoModel.register(OneLayerTranslatorConfig, OneLayerTranslatorModel, exist_ok=True)
AutoTokenizer.register(OneLayerTranslatorConfig, tokenizer_class=OneLayerTranslatorTokenizer, exist_ok=True)
AutoConfig.register(OneLayerSeq2SeqConfig.model_type, OneLayerSeq2SeqConfig, exist_ok=True)
AutoModelForSeq2SeqLM.register(OneLayerSeq2SeqConfig, OneLayerSeq2SeqForConditionalGeneration, exist_ok=True)
AutoTokenizer.register(OneLayerSeq2SeqConfig, tokenizer_class=OneLayerTranslatorTokenizer, exist_ok=True)

OneLayerTranslatorConfig.register_for_auto_class()
OneLayerTranslatorModel.register_for_auto_class("AutoModel")
OneLayerSeq2SeqConfig.register_for_auto_class()
OneLayerSeq2SeqForConditionalGeneration.register_for_auto_class("AutoModelForSeq2SeqLM")
OneLayerTranslatorTokenizer.register_for_auto_class("AutoTokenizer")
# the encoder–decoder loads through AutoModelForSeq2SeqLM, the course model through AutoModel
PIPELINE_REGISTRY.register_pipeline(PIPELINE_TASK, pipeline_class=OneLayerTranslationPipeline,
                                    pt_model=(AutoModelForSeq2SeqLM, AutoModel))

__all__ = [
    "PIPELINE_TASK",
    "OneLayerTranslationPipeline",
    "OneLayerSeq2SeqConfig",
    "OneLayerSeq2SeqForConditionalGeneration",
    "OneLayerSeq2SeqPreTrainedModel",
    "OneLayerTranslatorConfig",
    "OneLayerTranslatorModel",
    "OneLayerTranslatorOutput",
    "OneLayerTranslatorPreTrainedModel",
    "OneLayerTranslatorTokenizer",
]
