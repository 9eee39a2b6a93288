"""hf-onelayer: small Transformer translators (German -> English, Multi30k) as Hugging Face models.

Two models: the course model (one self-attention layer predicting English token t at German
position t; ``AutoModel``) and the one-layer encoder–decoder (``AutoModelForSeq2SeqLM``, with
``generate()``). Importing the package registers their configs, models and tokenizer with the Auto
classes, and marks them for ``register_for_auto_class`` so that saved folders carry their code and
load with ``trust_remote_code=True`` where this package is absent.
"""

from transformers.pipelines import PIPELINE_REGISTRY

from .kinds import KINDS  # registers each kind's config, model and tokenizer with the Auto classes

from .models.configuration_onelayer import OneLayerTranslatorConfig
from .models.configuration_seq2seq import OneLayerSeq2SeqConfig
from .models.modeling_onelayer import OneLayerTranslatorModel, OneLayerTranslatorOutput, OneLayerTranslatorPreTrainedModel
from .models.modeling_seq2seq import OneLayerSeq2SeqForConditionalGeneration, OneLayerSeq2SeqPreTrainedModel
from .models.pipeline_onelayer import TASK as PIPELINE_TASK
from .models.pipeline_onelayer import OneLayerTranslationPipeline
from .models.tokenization_onelayer import OneLayerTranslatorTokenizer

__version__ = "0.2.0"

OneLayerTranslatorTokenizer.register_for_auto_class("AutoTokenizer")
# each kind loads through its own Auto class (the encoder–decoder AutoModelForSeq2SeqLM, the course model AutoModel),
# encoder–decoders' first: the order that saved folders record in custom_pipelines
_kinds = sorted(KINDS.values(), key=lambda kind: not kind.is_encoder_decoder)
PIPELINE_REGISTRY.register_pipeline(PIPELINE_TASK, pipeline_class=OneLayerTranslationPipeline,
                                    pt_model=tuple(dict.fromkeys(kind.auto_class for kind in _kinds)))

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
