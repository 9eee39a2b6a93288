"""TranslationTrainer's loss: labelled positions only in training, label smoothing for training only."""

import pytest
import torch
import torch.nn.functional as F
from conftest import SOURCES, TARGETS
from datasets import Dataset

from hf_onelayer import OneLayerTranslatorConfig, OneLayerTranslatorModel
from hf_onelayer.arguments import OneLayerTrainingArguments
from hf_onelayer.data import tokenize_split
from hf_onelayer.trainer import build_trainer


@pytest.fixture()
def trainer_and_batch(small_tokenizer, tmp_path):
    def make(smoothing):
        raw = Dataset.from_dict({"de": SOURCES, "en": TARGETS})
        split = tokenize_split(raw, small_tokenizer, 20).dataset
        config = OneLayerTranslatorConfig(src_vocab_size=small_tokenizer.src_vocab_size,
                                          tgt_vocab_size=small_tokenizer.tgt_vocab_size, hidden_size=16,
                                          intermediate_size=24, head_dim_qk=8, head_dim_v=8,
                                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        torch.manual_seed(0)
        model = OneLayerTranslatorModel(config)
        args = OneLayerTrainingArguments(output_dir=str(tmp_path), label_smoothing_factor=smoothing, report_to="none")
        trainer = build_trainer(model, small_tokenizer, args, split, split)
        batch = trainer.data_collator([split[i] for i in range(len(split))])
        batch = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
        return trainer, model, batch

    return make


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_training_loss_is_cross_entropy_at_labels_smoothed_as_asked(trainer_and_batch, smoothing):
    trainer, model, batch = trainer_and_batch(smoothing)
    model.train()
    loss = trainer.compute_loss(model, batch)
    logits = model(**batch).logits
    keep = batch["labels"] != -100
    expected = F.cross_entropy(logits[keep], batch["labels"][keep], label_smoothing=smoothing)
    torch.testing.assert_close(loss, expected)
    assert smoothing == 0 or not torch.allclose(loss, F.cross_entropy(logits[keep], batch["labels"][keep]))


def test_evaluation_loss_is_never_smoothed(trainer_and_batch):
    trainer, model, batch = trainer_and_batch(0.1)
    model.eval()
    loss, _, _ = trainer.prediction_step(model, batch, prediction_loss_only=False)
    with torch.no_grad():
        plain = model(**batch).loss
    torch.testing.assert_close(loss, plain)
