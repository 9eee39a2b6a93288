"""transformers' translation recipe trains the models as ``hf-onelayer train`` does.

The recipe of transformers' example ``run_translation.py``: ``tok(src, text_target=tgt)`` -> ``DataCollatorForSeq2Seq``
-> ``Seq2SeqTrainer``. The package's path: ``data.tokenize_split`` -> the kind's collator -> its Trainer (the fused
training loss). Both start from the same weights and see the same batches, so their losses must agree.
"""

import copy

import pytest
import torch
from conftest import SOURCES, TARGETS, tiny_model, tiny_seq2seq
from datasets import Dataset
from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

from hf_onelayer import OneLayerTranslatorTokenizer
from hf_onelayer.arguments import OneLayerTrainingArguments
from hf_onelayer.data import tokenize_split
from hf_onelayer.kinds import KINDS
from hf_onelayer.trainer import build_trainer

BOTH = ["onelayer_translator", "onelayer_seq2seq"]
STEPS = 4
# The package's training loss is a fused, chunked cross-entropy (modeling_layers.LinearCrossEntropy), the recipe's
# F.cross_entropy over full logits: the same sums in another order, equal to ~1e-7 relative per step; after a few Adam
# steps at lr 1e-2 the two runs stay within 1e-4, while a label one position off changes the loss by > 10 %.
STEP_TOLERANCE = 1e-4


def pair(model_type):
    """A tokenizer framed as the kind's training wants it (``run.new_tokenizer``) and a tiny model sized to it."""
    kind = KINDS[model_type]
    if kind.is_encoder_decoder:
        tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, model="bpe", vocab_size=120,
                                                    min_frequency=1,
                                                    target_special_tokens_pattern=kind.target_special_tokens_pattern)
        return tiny_seq2seq(vocab_size=tok.tgt_vocab_size, max_position_embeddings=32), tok
    tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, min_frequency=1,
                                                target_special_tokens_pattern=kind.target_special_tokens_pattern)
    return tiny_model(src_vocab_size=tok.src_vocab_size, tgt_vocab_size=tok.tgt_vocab_size), tok


def test_the_encoder_decoder_labels_are_marians():
    model, tok = pair("onelayer_seq2seq")
    enc = tok(["Ein Mann fährt Fahrrad."], text_target=["A man rides a bike."], return_tensors="pt")
    assert tok.convert_target_ids_to_tokens(enc["labels"][0].tolist())[0] == "\u2581A"  # no <s>
    assert enc["labels"][0, -1] == tok.eos_token_id
    decoder_inputs = model.prepare_decoder_input_ids_from_labels(enc["labels"])
    assert decoder_inputs[0, 0] == model.config.decoder_start_token_id  # <s> once, not twice
    assert decoder_inputs[0, 1:].tolist() == enc["labels"][0, :-1].tolist()


@pytest.mark.parametrize("model_type", BOTH)
def test_the_standard_recipe_and_hf_onelayer_train_give_the_same_loss(model_type, tmp_path):
    model, tok = pair(model_type)
    raw = Dataset.from_dict({"de": SOURCES, "en": TARGETS})
    recipe_data = raw.map(lambda batch: tok(batch["de"], text_target=batch["en"]), batched=True,
                          remove_columns=["de", "en"])
    package_data = tokenize_split(raw, tok, 32, decoder=KINDS[model_type].is_encoder_decoder).dataset

    # the same batch through each path's collator: the same loss
    recipe_collator = DataCollatorForSeq2Seq(tok, model=model)
    recipe_batch = recipe_collator([recipe_data[i] for i in range(len(raw))])
    package_trainer = build_trainer(copy.deepcopy(model), tok, OneLayerTrainingArguments(
        output_dir=str(tmp_path / "package"), max_steps=STEPS, learning_rate=1e-2, per_device_train_batch_size=3,
        lr_scheduler_type="constant", warmup_steps=0, logging_steps=1, eval_strategy="no", save_strategy="no",
        load_best_model_at_end=False, report_to="none", use_cpu=True, disable_tqdm=True), package_data)
    columns = ("input_ids", "attention_mask", "labels")
    package_batch = package_trainer.data_collator([{k: package_data[i][k] for k in columns} for i in range(len(raw))])
    with torch.no_grad():
        recipe_loss = model(**recipe_batch).loss
        package_loss = model(**package_batch).loss
    torch.testing.assert_close(recipe_loss, package_loss, rtol=1e-6, atol=0)

    # a few training steps each way, the same shuffled order (one seed): the same losses, step by step
    recipe_trainer = Seq2SeqTrainer(
        model=copy.deepcopy(model), processing_class=tok, data_collator=recipe_collator, train_dataset=recipe_data,
        args=Seq2SeqTrainingArguments(
            output_dir=str(tmp_path / "recipe"), max_steps=STEPS, learning_rate=1e-2, per_device_train_batch_size=3,
            optim="adamw_torch", weight_decay=0.0, lr_scheduler_type="constant", warmup_steps=0, logging_steps=1,
            save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True, seed=42))
    recipe_trainer.train()
    package_trainer.train()
    losses = [[log["loss"] for log in trainer.state.log_history if "loss" in log]
              for trainer in (recipe_trainer, package_trainer)]
    assert len(losses[0]) == len(losses[1]) == STEPS
    assert losses[1] == pytest.approx(losses[0], rel=STEP_TOLERANCE)
    assert losses[0][-1] < losses[0][0]  # they trained
