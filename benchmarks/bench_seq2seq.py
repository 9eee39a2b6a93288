"""The encoder–decoder side by side with what a transformers user would pick instead: ``MarianMTModel``.

    .venv/bin/python benchmarks/bench_seq2seq.py --data_dir ../shared/data/multi30k [--epochs 1]

Both models get the same dimensions (1+1 layers, hidden, heads, FFN, dropout), the same joint BPE
vocabulary and the same training pairs in the same order, and are trained by ``Seq2SeqTrainer``
with the same recipe (training/configs/seq2seq.json, ``--epochs`` epochs, no evaluation in
between). Printed, and written to ``--out`` as JSON:

* training target tokens/s (target tokens of the training split x epochs / ``train_runtime``);
* beam-5 translation of test_2016_flickr, sentences/s (batches of 64 sorted by length), as each
  model writes it, and with every output forced to ``--forced_length`` tokens: the first depends on
  how long the outputs of the two models are, the second compares the cost of the same work;
* test BLEU (lowercased and cased) and chrF of those translations;
* the ratios ours / Marian.
"""

import json
import os
import tempfile
import time
from dataclasses import dataclass, field

import torch
from transformers import (DataCollatorForSeq2Seq, HfArgumentParser, MarianConfig, MarianMTModel, Seq2SeqTrainer,
                          set_seed)

from hf_onelayer.arguments import ModelArguments, OneLayerTrainingArguments, parse
from hf_onelayer.data import load_local_folder, tokenize_split
from hf_onelayer.factory import make_model
from hf_onelayer.metrics import corpus_scores
from hf_onelayer.run import new_tokenizer
from hf_onelayer.trainer import build_trainer
from hf_onelayer.translation import load
from hf_onelayer.utils import first

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training", "configs", "seq2seq.json")


@dataclass
class BenchArguments:
    data_dir: str = field(metadata={"help": "Multi30k raw files folder"})
    epochs: float = field(default=1.0, metadata={"help": "training epochs of each model"})
    max_train_samples: int | None = None
    beam_batch_size: int = 64
    forced_length: int = field(default=24, metadata={"help": "tokens per output in the same-work beam timing"})
    models: list[str] = field(default_factory=lambda: ["ours", "marian"], metadata={"help": "ours and/or marian"})
    ours_from: str | None = field(default=None, metadata={"help": "time this trained folder as ours instead of training"})
    profile: bool = field(default=False, metadata={"help": "with --ours_from: print where a beam-5 step spends its time"})
    out: str = "runs/bench_seq2seq.json"


def marian_like(model) -> MarianMTModel:
    """A MarianMTModel with our model's dimensions, vocabulary and special tokens."""
    c = model.config
    config = MarianConfig(
        vocab_size=c.vocab_size, decoder_vocab_size=c.vocab_size, d_model=c.hidden_size, encoder_layers=c.encoder_layers,
        decoder_layers=c.decoder_layers, encoder_attention_heads=c.num_attention_heads,
        decoder_attention_heads=c.num_attention_heads, encoder_ffn_dim=c.intermediate_size,
        decoder_ffn_dim=c.intermediate_size, max_position_embeddings=c.max_position_embeddings,
        dropout=c.hidden_dropout_prob, attention_dropout=c.attention_probs_dropout_prob, activation_function="relu",
        pad_token_id=c.pad_token_id, eos_token_id=c.eos_token_id, bos_token_id=c.bos_token_id,
        decoder_start_token_id=c.decoder_start_token_id, forced_eos_token_id=None, share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True, init_std=c.initializer_range,
    )
    marian = MarianMTModel(config)
    marian.generation_config.update(num_beams=5, max_length=c.max_position_embeddings, bad_words_ids=None,
                                    forced_eos_token_id=None)
    return marian


def train(model, tokenizer, splits, training_args) -> float:
    """Ours through its own wiring (``build_trainer``); Marian through a plain ``Seq2SeqTrainer`` with
    transformers' ``DataCollatorForSeq2Seq`` and label smoother. Returns train_runtime in seconds."""
    if isinstance(model, MarianMTModel):
        trainer = Seq2SeqTrainer(model=model, args=training_args, train_dataset=splits["train"], processing_class=tokenizer,
                                 data_collator=DataCollatorForSeq2Seq(tokenizer, model=model))
    else:
        trainer = build_trainer(model, tokenizer, training_args, splits["train"])
    return trainer.train().metrics["train_runtime"]


@torch.inference_mode()
def beam_translate(model, tokenizer, sentences, batch_size, length: int | None = None) -> tuple[list[str], float]:
    """Beam-5 translations in the original order, and the seconds they took (``length``: every output
    exactly that many tokens)."""
    model.eval()
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out = [None] * len(sentences)
    start = time.perf_counter()
    for begin in range(0, len(order), batch_size):
        rows = order[begin : begin + batch_size]
        enc = tokenizer([sentences[i] for i in rows], padding=True, return_tensors="pt")
        size = dict(min_new_tokens=length, max_new_tokens=length) if length else \
            dict(max_length=model.config.max_position_embeddings)
        ids = model.generate(**enc, num_beams=5, **size)
        for i, text in zip(rows, tokenizer.batch_decode(ids, skip_special_tokens=True)):
            out[i] = text
    return out, time.perf_counter() - start


@torch.inference_mode()
def profile_beam(model, tokenizer, sentences, steps: int = 20) -> str:
    """``torch.profiler`` table of one batch translated with beam 5, every output ``steps`` tokens long."""
    from torch.profiler import ProfilerActivity, profile

    enc = tokenizer(sentences, padding=True, return_tensors="pt")
    model.generate(**enc, num_beams=5, min_new_tokens=steps, max_new_tokens=steps)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.generate(**enc, num_beams=5, min_new_tokens=steps, max_new_tokens=steps)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)


def main():
    (args,) = HfArgumentParser(BenchArguments).parse_args_into_dataclasses()
    model_args, training_args = parse((ModelArguments, OneLayerTrainingArguments), [CONFIG], "bench", allow_remaining=True)[:2]
    raw = load_local_folder(args.data_dir, splits=("train", "test"))
    train_raw = first(raw["train"], args.max_train_samples)
    tokenizer = new_tokenizer(train_raw, model_args, ("de", "en"))  # as hf-onelayer train makes it
    results = {"threads": torch.get_num_threads(), "epochs": args.epochs, "train_pairs": len(train_raw)}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            if name == "ours" and args.ours_from:
                model, trained_tokenizer = load(args.ours_from)
                hypotheses, seconds = beam_translate(model, trained_tokenizer, raw["test"]["de"], args.beam_batch_size)
                _, forced = beam_translate(model, trained_tokenizer, raw["test"]["de"], args.beam_batch_size,
                                           args.forced_length)
                results[name] = {"model": args.ours_from, "beam5_sentences_per_s": len(hypotheses) / seconds,
                                 f"beam5_sentences_per_s_at_{args.forced_length}_tokens": len(hypotheses) / forced,
                                 "beam5_output_tokens": sum(
                                     len(trained_tokenizer(text_target=h, add_special_tokens=False)["input_ids"])
                                     for h in hypotheses),
                                 **{f"test_{k}": v for k, v in corpus_scores(hypotheses, raw["test"]["en"]).items()}}
                print(name, json.dumps(results[name]))
                if args.profile:
                    print(profile_beam(model, trained_tokenizer, raw["test"]["de"][: args.beam_batch_size]))
                continue
            set_seed(training_args.seed)
            ours = make_model(tokenizer, model_args, train_raw, training_args.seed)
            model = ours if name == "ours" else marian_like(ours)
            splits = {"train": tokenize_split(train_raw, tokenizer, ours.config.max_position_embeddings,
                                              decoder=True).dataset}
            target_tokens = sum(len(ids) for ids in splits["train"]["labels"])
            training_args.output_dir = os.path.join(tmp, name)
            training_args.num_train_epochs = args.epochs
            training_args.eval_strategy = training_args.save_strategy = "no"
            training_args.load_best_model_at_end, training_args.report_to = False, []
            runtime = train(model, tokenizer, splits, training_args)
            hypotheses, seconds = beam_translate(model, tokenizer, raw["test"]["de"], args.beam_batch_size)
            _, forced_seconds = beam_translate(model, tokenizer, raw["test"]["de"], args.beam_batch_size,
                                               args.forced_length)
            results[name] = {
                "beam5_output_tokens": sum(len(tokenizer(text_target=h, add_special_tokens=False)["input_ids"])
                                       for h in hypotheses),
                f"beam5_sentences_per_s_at_{args.forced_length}_tokens": len(hypotheses) / forced_seconds,
                "parameters": model.num_parameters(), "train_runtime_s": runtime,
                "train_target_tokens_per_s": target_tokens * args.epochs / runtime,
                "beam5_sentences_per_s": len(hypotheses) / seconds,
                **{f"test_{k}": v for k, v in corpus_scores(hypotheses, raw["test"]["en"]).items()},
            }
            print(name, json.dumps(results[name]))
    if len(args.models) < 2:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
        return
    results["ratios"] = {
        "train_tokens_per_s": results["ours"]["train_target_tokens_per_s"] / results["marian"]["train_target_tokens_per_s"],
        "beam5_sentences_per_s": results["ours"]["beam5_sentences_per_s"] / results["marian"]["beam5_sentences_per_s"],
        "beam5_same_work": results["ours"][f"beam5_sentences_per_s_at_{args.forced_length}_tokens"]
        / results["marian"][f"beam5_sentences_per_s_at_{args.forced_length}_tokens"],
        "test_bleu_difference": results["ours"]["test_bleu"] - results["marian"]["test_bleu"],
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"ours / Marian: training tokens/s {results['ratios']['train_tokens_per_s']:.2f}x (goal >= 1.5x), "
          f"beam-5 sentences/s {results['ratios']['beam5_sentences_per_s']:.2f}x (goal >= 1.2x; "
          f"{results['ratios']['beam5_same_work']:.2f}x when both write {args.forced_length} tokens), "
          f"test BLEU {results['ours']['test_bleu']:.2f} vs {results['marian']['test_bleu']:.2f} after {args.epochs:g} "
          f"epoch(s) (goal: at least equal)")


if __name__ == "__main__":
    main()
