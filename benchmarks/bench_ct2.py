"""CTranslate2 against transformers' generate(), one JSON line (issue 23):

    make bench            # or: .venv/bin/python benchmarks/bench_ct2.py [--data_dir DIR] [--model release/seq2seq]

All rows translate test_2016_flickr (1,000 sentences) with beam 5, batches of 64, 2 threads, in one run
(CTranslate2: two batches at once, one thread each, as ``ct2.Translator`` runs; one row gives both threads to
one batch instead):

1. speed, every output forced to ``--forced_length`` tokens (the same work for every engine), sentences/s:
   our model through ``generate()``; its CTranslate2 export, int8; ``MarianMTModel.generate()`` at the same
   dimensions; that Marian converted by CTranslate2's own ``TransformersConverter``, int8. Goals: ours-int8 >= 4x
   ours-generate, >= 3x Marian-generate, and no slower than the converted Marian (parity expected);
2. quality at natural lengths: test BLEU of ``generate()``, the float32 export (goal: within 0.1) and the int8
   export (goal: within 0.5); the sentences/s of each, and how many translations equal generate()'s (float32
   also at CTranslate2's default patience 1; ``ct2.Translator`` uses 2);
3. peak RSS of ``hf-onelayer translate --engine ctranslate2`` (int8) over the 1,000 sentences (a child process).

The Marian model has random weights (its timing is at forced lengths, where weights do not change the work); it
follows Marian's own convention (``<pad>`` last, the decoder starting from it) so that the converter takes it.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_seq2seq import beam_translate, marian_like  # noqa: E402

from hf_onelayer import ct2  # noqa: E402
from hf_onelayer.data import load_local_folder  # noqa: E402
from hf_onelayer.metrics import corpus_scores  # noqa: E402
from hf_onelayer.translation import load  # noqa: E402


def ct2_forced(translator, tokenizer, sentences, batch_size: int, length: int) -> float:
    """Seconds for beam-5 CTranslate2 translation with every output exactly ``length`` tokens."""
    tokens = [tokenizer.convert_source_ids_to_tokens(ids) for ids in tokenizer(sentences, truncation=True,
                                                                               max_length=128)["input_ids"]]
    start = time.perf_counter()
    translator.translate_batch(tokens, beam_size=5, max_batch_size=batch_size, min_decoding_length=length,
                               max_decoding_length=length)
    return time.perf_counter() - start


def converted_marian(model, tokenizer, folder: str):
    """A random MarianMTModel with our dimensions in Marian's convention (``<pad>`` appended last and starting the
    decoder), saved with a matching tokenizer and converted by CTranslate2's ``TransformersConverter`` (int8) into
    ``folder``_ct2, in a child process (no CTranslate2 object in this one before the transformers timings)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {("<pad0>" if i == tokenizer.pad_token_id else t): i
             for i, t in enumerate(tokenizer.convert_source_ids_to_tokens(range(tokenizer.src_vocab_size)))}
    pad = len(vocab)
    vocab["<pad>"] = pad
    torch.manual_seed(0)
    marian = marian_like(model)
    marian.resize_token_embeddings(pad + 1)
    marian.config.update({"pad_token_id": pad, "decoder_start_token_id": pad})
    marian.generation_config.update(pad_token_id=pad, decoder_start_token_id=pad)
    marian.save_pretrained(folder)
    fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="<unk>")), unk_token="<unk>",
                                   eos_token="</s>", pad_token="<pad>", bos_token="<s>")
    fast.save_pretrained(folder)
    subprocess.run([sys.executable, "-c", "import sys; from ctranslate2.converters import TransformersConverter; "
                    "TransformersConverter(sys.argv[1]).convert(sys.argv[1] + '_ct2', quantization='int8', force=True)",
                    folder], check=True, capture_output=True)
    return marian.eval()


def peak_rss_mib(model_dir: str, source_file: str) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of ``hf-onelayer translate --engine ctranslate2`` over ``source_file``."""
    start = time.perf_counter()
    with open(source_file, encoding="utf-8") as stdin:
        subprocess.run([sys.executable, "-m", "hf_onelayer.cli", "translate", "--engine", "ctranslate2", "--model",
                        model_dir], stdin=stdin, stdout=subprocess.DEVNULL, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - start


def main(data_dir: str, model_dir: str, batch_size: int, forced_length: int, max_sentences: int | None = None) -> dict:
    torch.set_num_threads(2)
    model, tokenizer = load(model_dir)
    test = load_local_folder(data_dir, splits=("test",))["test"]
    sentences, references = list(test["de"])[:max_sentences], list(test["en"])[:max_sentences]
    n = len(sentences)
    result = {"threads": torch.get_num_threads(), "batch_size": batch_size, "forced_length": forced_length,
              "sentences": n, "model": model_dir}
    with tempfile.TemporaryDirectory() as tmp:
        # transformers first, before any CTranslate2 object exists in the process (it shares OpenMP with torch)
        marian = converted_marian(model, tokenizer, os.path.join(tmp, "marian"))
        speed = {"ours_generate": n / beam_translate(model, tokenizer, sentences, batch_size, forced_length)[1],
                 "marian_generate": n / beam_translate(marian, tokenizer, sentences, batch_size, forced_length)[1]}
        generated, seconds = beam_translate(model, tokenizer, sentences, batch_size)
        quality = {"generate": {"bleu": corpus_scores(generated, references)["bleu"], "sentences_per_s": n / seconds}}
        import ctranslate2

        exports = {q: ct2.export(model_dir, os.path.join(tmp, q), q) for q in ("int8", "float32")}
        engines = {q: ct2.Translator(path, threads=2) for q, path in exports.items()}
        marian_engine = ctranslate2.Translator(os.path.join(tmp, "marian_ct2"), device="cpu", compute_type="int8",
                                               inter_threads=2, intra_threads=1)  # as ct2.Translator
        both_on_one = ctranslate2.Translator(exports["int8"], device="cpu", compute_type="int8", inter_threads=1,
                                             intra_threads=2)
        speed.update({
            "ours_ct2_int8": n / ct2_forced(engines["int8"].translator, tokenizer, sentences, batch_size, forced_length),
            "marian_converted_ct2_int8": n / ct2_forced(marian_engine, tokenizer, sentences, batch_size, forced_length),
            "ours_ct2_int8_two_threads_on_one_batch": n / ct2_forced(both_on_one, tokenizer, sentences, batch_size,
                                                                     forced_length),
        })
        result["sentences_per_s_forced"] = speed
        result["ratios"] = {
            "ct2_int8_over_generate": speed["ours_ct2_int8"] / speed["ours_generate"],
            "ct2_int8_over_marian_generate": speed["ours_ct2_int8"] / speed["marian_generate"],
            "ours_ct2_over_converted_marian_ct2": speed["ours_ct2_int8"] / speed["marian_converted_ct2_int8"],
        }
        for q, engine in engines.items():
            start = time.perf_counter()
            hypotheses = engine.translate(sentences, num_beams=5, batch_size=batch_size)
            quality[f"ct2_{q}"] = {"bleu": corpus_scores(hypotheses, references)["bleu"],
                                   "sentences_per_s": n / (time.perf_counter() - start),
                                   "same_text_as_generate": sum(a == b for a, b in zip(hypotheses, generated)),
                                   "bleu_minus_generate": corpus_scores(hypotheses, references)["bleu"]
                                   - quality["generate"]["bleu"]}
        engines["float32"].patience = 1  # CTranslate2's default: stop at num_beams finished hypotheses
        hypotheses = engines["float32"].translate(sentences, num_beams=5, batch_size=batch_size)
        quality["ct2_float32_patience_1"] = {"bleu": corpus_scores(hypotheses, references)["bleu"],
                                             "same_text_as_generate": sum(a == b for a, b in zip(hypotheses, generated))}
        result["natural_length"] = quality
        rss, wall = peak_rss_mib(exports["int8"], os.path.join(data_dir, "test_2016_flickr.de"))
        result["translate_cli_int8"] = {"peak_rss_mib": rss, "wall_s": wall}
    result["goals"] = {
        "ct2_int8_over_generate >= 4": result["ratios"]["ct2_int8_over_generate"] >= 4,
        "ct2_int8_over_marian_generate >= 3": result["ratios"]["ct2_int8_over_marian_generate"] >= 3,
        "float32 BLEU within 0.1": abs(quality["ct2_float32"]["bleu_minus_generate"]) <= 0.1,
        "int8 BLEU within 0.5": abs(quality["ct2_int8"]["bleu_minus_generate"]) <= 0.5,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="../shared/data/multi30k")
    parser.add_argument("--model", default="release/seq2seq")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--forced_length", type=int, default=24)
    parser.add_argument("--max_sentences", type=int, default=None, help="a quick look: the first N (not a result)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    out = main(args.data_dir, args.model, args.batch_size, args.forced_length, args.max_sentences)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=2)
