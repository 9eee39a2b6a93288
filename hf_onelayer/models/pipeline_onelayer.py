"""A ``transformers`` pipeline for both hf-onelayer models: German text in, English text out.

transformers 5 has no "translation" task any more, so the package registers this class as the task
``onelayer-translation``; ``save_pretrained`` of a trained model writes it into the folder's config
(``custom_pipelines``) and copies this file, so that

    pipeline(model=FOLDER_OR_REPO, trust_remote_code=True)("Ein Hund läuft.")

works where hf_onelayer is not installed. This file is copied into saved folders (remote code), so
it imports only third-party libraries.
"""

from transformers import Pipeline

TASK = "onelayer-translation"


class OneLayerTranslationPipeline(Pipeline):
    """``[{"translation_text": ...}]`` for each German input: ``generate()`` for the encoder–decoder
    (``num_beams``, ``max_new_tokens`` and other generation flags pass through), the greedy read-out
    for the course model."""

    def __call__(self, inputs, **kwargs):
        result = super().__call__(inputs, **kwargs)
        if isinstance(inputs, list):  # one dict per sentence, as transformers' translation pipeline gave
            return [item[0] for item in result]
        return result

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
