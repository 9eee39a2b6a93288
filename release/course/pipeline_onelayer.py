"""A ``transformers`` pipeline for both hf-onelayer models: German text in, English text out.

transformers 5 has no "translation" task any more, so the package registers this class as the task
``onelayer-translation``; ``save_pretrained`` of a trained model writes it into the folder's config
(``custom_pipelines``) and copies this file, so that

    pipeline(model=FOLDER_OR_REPO, trust_remote_code=True)("Ein Hund läuft.")

works where hf_onelayer is not installed. This file is copied into saved folders (remote code), so
it imports only third-party libraries.
"""

from transformers import Pipeline
from transformers.utils import logging

TASK = "onelayer-translation"
logger = logging.get_logger(__name__)


class OneLayerTranslationPipeline(Pipeline):
    """``[{"translation_text": ...}]`` for each German input: ``generate()`` for the encoder–decoder
    (``num_beams``, ``max_new_tokens`` and other generation flags pass through), the greedy read-out
    for the course model."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit, length = self.model.config.max_position_embeddings, self.tokenizer.model_max_length
        if length != limit and length < 1e20:  # a folder saved before the two were kept equal (1e30: never set)
            logger.warning(f"the tokenizer's model_max_length is {length} but the model's max_position_embeddings is "
                           f"{limit}; inputs are cut to {limit} tokens")

    def __call__(self, inputs, **kwargs):
        """A string gives its list of ``{"translation_text"}`` (``num_return_sequences`` of them, 1 by default); a list
        gives one such list per string, or one dict per string when a single sequence is asked for. A blank string
        translates to "" without running the model; an empty list gives an empty list."""
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list):
            return super().__call__(inputs, **kwargs)  # preprocess names the type it cannot take
        copies = kwargs.get("num_return_sequences") or 1
        blank = [isinstance(t, str) and not t.strip() for t in texts]
        self._warn_truncated(texts)
        ran = iter(super().__call__([t for t, b in zip(texts, blank) if not b], **kwargs) if not all(blank) else [])
        rows = [[{"translation_text": ""}] * copies if b else next(ran) for b in blank]
        if isinstance(inputs, str):
            return rows[0]
        return rows if copies > 1 else [row[0] for row in rows]  # one dict per sentence, as transformers' gave

    def _warn_truncated(self, texts) -> None:
        """One warning per call naming the limit and how many inputs are cut to it."""
        limit = self.model.config.max_position_embeddings
        extra = self.tokenizer.num_special_tokens_to_add()
        cut = sum(isinstance(t, str) and len(self.tokenizer.tokenize(t)) + extra > limit for t in texts)
        if cut:
            logger.warning(f"{cut} of {len(texts)} inputs are longer than max_position_embeddings={limit} tokens and "
                           f"were cut to {limit}")

    def _sanitize_parameters(self, **generate_kwargs):
        return {}, generate_kwargs, {}

    def preprocess(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"{TASK} takes source-language text (a string or a list of strings), got {type(text).__name__}")
        return self.tokenizer([text], truncation=True, max_length=self.model.config.max_position_embeddings,
                              return_tensors="pt")

    def _forward(self, inputs, **generate_kwargs):
        if self.model.config.is_encoder_decoder:
            return {"ids": self.model.generate(**inputs, **generate_kwargs)}
        if generate_kwargs:
            raise ValueError(f"the course model translates greedily; {sorted(generate_kwargs)} apply to the encoder-decoder")
        return {"ids": self.model.translate_ids(inputs["input_ids"], inputs["attention_mask"])}

    def postprocess(self, outputs):
        return [{"translation_text": text} for text in self.tokenizer.batch_decode(outputs["ids"], skip_special_tokens=True)]


__all__ = ["OneLayerTranslationPipeline", "TASK"]
