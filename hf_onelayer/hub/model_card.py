"""Model cards generated from a run's metrics (huggingface_hub ``ModelCard`` / ``ModelCardData``).

Training writes the card as ``README.md`` into its ``output_dir``; every number in it is read from
that run's ``all_results.json`` and ``trainer_state.json``, never typed by hand.
"""

import json
import os

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..data import DEFAULT_HUB_DATASET as DATASET
from ..data import DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG
from ..metrics import LENGTH_GROUPS
from ..kinds import COURSE, kind_of
from ..models.tokenization_onelayer import OneLayerTranslatorTokenizer
from ..search.space import TRAINING_KEYS
from ..utils import redact
LANGUAGE_NAMES = {"de": "German", "en": "English", "fr": "French", "cs": "Czech"}  # else the code is shown
EXAMPLE_INPUT = {"de": "Ein Mann fährt Fahrrad.", "fr": "Un homme fait du vélo.", "cs": "Muž jede na kole.",
                 "en": "A man rides a bike."}
SPLITS = (("eval", "validation", "val"), ("test", "test", "test_2016_flickr"))

TEMPLATE = """---
{{ card_data }}
---

# {{ title }} ({{ src }} → {{ tgt }}, Multi30k)

{{ description }}

## Results

Produced by: `{{ command }}` on {{ data }}.

| split | perplexity | BLEU | chrF | {{ last_column }} |
| --- | --- | --- | --- | --- |
{{ results_table }}

Perplexity is exp of the token-weighted mean NLL over every non-pad target token except the leading
`<s>`; BLEU and chrF are sacrebleu (lowercased) on {{ decoding }} against the raw references.
Best epoch (by val {{ best_metric }}): {{ best_epoch }} of {{ epochs }}; training wall time {{ train_runtime }} s{{ machine }}.

## Training

{{ parameters }} parameters. Architecture: {{ architecture }}. Hyper-parameters: {{ hyper }}.
{{ tokenizer_note }}
{{ embedding_note }}

## Use

```python
{{ use }}
```

`trust_remote_code=True` runs the model code saved with the weights (`modeling_*.py`,
`configuration_*.py`, `tokenization_onelayer.py`); with `hf_onelayer` installed it is not needed.
{{ fast_cpu }}
## Intended use and limitations

For teaching and research on attention and embeddings, not for production translation. {{ limitations }}
{{ unk_note }}
{{ length_table }}{{ examples }}
"""

def _load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


FAST_CPU = """
## Fast CPU inference

Exported to [CTranslate2](https://github.com/OpenNMT/CTranslate2) (int8 weights, its own C++ beam search):

```bash
pip install 'hf-onelayer[ct2]'
hf-onelayer export-ct2 --model {repo} --output_dir model-ct2 --quantization int8
hf-onelayer translate --engine ctranslate2 --model model-ct2 "{example}"
```

In Python: `from hf_onelayer.ct2 import Translator; Translator("model-ct2").translate(["{example}"], num_beams=5)`.
"""


def fast_cpu_note(measured: dict | None) -> str:
    """One line of the int8 export's test BLEU and speed beside generate()'s (``measure_ct2``), or ""."""
    if not measured:
        return ""
    return (f"On test_2016_flickr, beam 5, batches of 64, {measured['threads']} CPU threads: int8 BLEU "
            f"{measured['ct2_int8_bleu']:.2f} ({measured['generate_bleu']:.2f} through `generate()`), "
            f"{measured['ct2_int8_sentences_per_s']:.0f} sentences/s, {measured['speedup']:.1f}× `generate()` "
            f"({measured['generate_sentences_per_s']:.0f} sentences/s), the export's own time included, measured "
            "when this card was written (`hf-onelayer model-card --data_dir ...`).\n")


def build_card(model_dir: str, command: str, repo: str | None = None, machine: str | None = None,
               examples: list[tuple[str, str, str]] | None = None, allow_pickle: bool = False,
               fast_cpu: dict | None = None) -> ModelCard:
    """The card of the run saved in ``model_dir`` (config.json, all_results.json, trainer_state.json).

    ``machine``: where it trained, for the wall time (left out when None); ``examples``: rows of
    (source, reference, model output) from :func:`pick_examples`; ``fast_cpu``: the CTranslate2 int8 export's
    measured BLEU and speed (``measure_ct2``), for an encoder–decoder's "Fast CPU inference" section. The
    languages are the tokenizer's.
    """
    metrics = _load_json(os.path.join(model_dir, "all_results.json"))
    config = _load_json(os.path.join(model_dir, "config.json"))
    codes = _languages(model_dir)
    src, tgt = (LANGUAGE_NAMES.get(code, code) for code in codes)
    history = _log_history(model_dir)
    kind = kind_of(config.get("model_type", COURSE.name))
    family = kind.card  # what the card says of this kind of model
    evals = [h for h in history if "eval_perplexity" in h]
    sign = -1 if kind.greater_is_better else 1
    best = min(evals, key=lambda h: sign * h[f"eval_{kind.selection}"])["epoch"] if evals else "n/a"
    hyper = _hyper_parameters(model_dir, allow_pickle)

    eval_results, rows = [], []
    for prefix, split, label in SPLITS:
        if f"{prefix}_perplexity" not in metrics:
            continue
        for metric, name in (("perplexity", "Perplexity"), ("bleu", "BLEU"), ("chrf", "chrF")):
            eval_results.append(EvalResult(
                task_type="translation", task_name=f"Translation {src}→{tgt}", dataset_type=DATASET,
                dataset_name=f"Multi30k (task 1, {src}→{tgt})", dataset_split=split, metric_type=metric, metric_name=name,
                metric_value=round(float(metrics[f"{prefix}_{metric}"]), 3),
            ))
        last = (f"{metrics[f'{prefix}_greedy_bleu']:.2f}" if f"{prefix}_greedy_bleu" in metrics else
                f"{metrics[f'{prefix}_token_accuracy']:.3f}" if f"{prefix}_token_accuracy" in metrics else "–")
        unk = metrics.get(f"{prefix}_unk_rate")  # perplexities compare only with the <unk> share beside them
        perplexity = f"{metrics[f'{prefix}_perplexity']:.2f}" + (f" ({100 * unk:.1f} % `<unk>`)" if unk else "")
        rows.append(f"| {label} | {perplexity} | {metrics[f'{prefix}_bleu']:.2f} | "
                    f"{metrics[f'{prefix}_chrf']:.2f} | {last} |")
    card_data = ModelCardData(
        language=list(codes), license="mit", library_name="transformers", datasets=[DATASET],
        metrics=["perplexity", "bleu", "chrf"], tags=["translation", kind.name,
                                                      "custom_code"],
        model_name=repo or os.path.basename(os.path.abspath(model_dir)),
        eval_results=eval_results,
    )
    init = config.get("embedding_init")
    embedding_note = _embedding_note(init, src, tgt)
    example_text = ""
    length_table = _length_table(metrics, src, tgt)
    if examples:
        example_text = (f"\nExamples ({family['example_output']} of this model on test_2016_flickr; the first rows are where it does "
                        f"best, the last where it does worst by sentence chrF):\n\n| {src} | reference | model |\n"
                        "| --- | --- | --- |\n")
        example_text += "\n".join(f"| {source} | {reference} | {out} |" for source, reference, out in examples) + "\n"
    shape = dict(emb_ln=" + LayerNorm" if config.get("embedding_layer_norm") else "",
                 heads=config["num_attention_heads"], norm=config.get("norm_position", "post"),
                 repo=repo or "PATH_OR_REPO_ID", src=src, tgt=tgt,
                 example=EXAMPLE_INPUT.get(codes[0], f"(a sentence in {src})"),
                 reorderings=" (verb-final subordinate clauses, separable verbs)" if codes[0] == "de" else "")
    texts = {k: v.format(**shape) if k in ("description", "use", "limitations") else v for k, v in family.items()
             if k != "example_output"}
    return ModelCard.from_template(
        card_data, template_str=TEMPLATE, command=redact(command), **texts, results_table="\n".join(rows), best_epoch=_show(best),
        epochs=_show(metrics.get("epoch")), train_runtime=round(metrics.get("train_runtime", 0)),
        machine=f" on {machine}" if machine else "",
        parameters=f"{_count_parameters(model_dir):,}", hyper=hyper,
        **_tokenizer_notes(model_dir, config, src, tgt), src=src, tgt=tgt,
        embedding_note=embedding_note, examples=example_text,
        fast_cpu=(FAST_CPU.format(**shape) + fast_cpu_note(fast_cpu)) if kind.is_encoder_decoder else "",
        length_table=length_table, data=_data_line(model_dir, metrics),
        architecture=", ".join(f"{k}={_show(config[k])}" for k in kind.config_class.architecture_fields if k in config),
    )


def _data_line(model_dir: str, metrics: dict) -> str:
    """What the run trained and was scored on, with the pair counts of its ``all_results.json``: Multi30k task 1's
    raw files, or a teacher's translations of them (the run's ``--data_dir`` holds a ``distill.json``)."""
    splits = (("train", "train", "train"),) + SPLITS
    counts = "; ".join(f"{label} {metrics[f'{prefix}_samples']:,}" for prefix, _, label in splits
                       if f"{prefix}_samples" in metrics)
    counts = f" ({counts})" if counts else ""
    data_dir = (_run_args(model_dir) or {}).get("data", {}).get("data_dir")
    summary = os.path.join(data_dir, "distill.json") if data_dir else ""
    if not os.path.isfile(summary):
        return f"Multi30k task 1 raw files{counts}"
    made = _load_json(summary)
    references = ", each source also with its human reference" if made.get("with_references") else ""
    return (f"the teacher `{made['teacher']}`'s beam-{made['num_beams']} translations of Multi30k task 1's training "
            f"sources{references} (`{data_dir}`, written by `hf-onelayer distill`; val and test are Multi30k's own)"
            f"{counts}")


def _languages(model_dir: str) -> tuple[str, str]:
    """The run's (source, target) language codes, from its tokenizer_config.json (the package defaults without one)."""
    path = os.path.join(model_dir, "tokenizer_config.json")
    saved = _load_json(path) if os.path.isfile(path) else {}
    return saved.get("source_lang", DEFAULT_SOURCE_LANG), saved.get("target_lang", DEFAULT_TARGET_LANG)


def _embedding_note(init: dict | None, src: str, tgt: str) -> str:
    """One sentence per initialised side from the config's ``embedding_init`` record."""
    if not init:
        return "Embeddings initialised at random (normal, std = initializer_range)."
    names = {"src": f"{src} token embeddings", "tgt": f"{tgt} head weights"}
    parts = []
    for side in ("src", "tgt"):
        info = init.get(side)
        if not info:
            continue
        how = [f"{info.get('type_coverage', 0):.1%} of the vocabulary covered"]
        if info.get("projection"):
            how.append(f"{info['projection']} projection")
        how.append("kept frozen" if info.get("frozen") else "trained further")
        parts.append(f"{names[side]} from `{info.get('source', info.get('kind'))}` ({info.get('dim')}-d; "
                     + ", ".join(how) + ")")
    others = [s for s in ("src", "tgt") if s not in init]
    tail = f"; {names[others[0]]} at random" if others else ""
    return "Initialised: " + "; ".join(parts) + tail + "."


def _length_table(metrics: dict, src: str, tgt: str) -> str:
    """Perplexity by |target length - source length| per split (``perplexity_len_diff_*``), as Markdown."""
    rows = []
    for prefix, _, label in SPLITS:
        if f"{prefix}_perplexity_len_diff_0" not in metrics:
            continue
        cells = [f"{metrics[f'{prefix}_perplexity_len_diff_{g}']:.1f} ({metrics[f'{prefix}_share_len_diff_{g}']:.0%})"
                 if f"{prefix}_perplexity_len_diff_{g}" in metrics else "–" for g in LENGTH_GROUPS]
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {metrics[f'{prefix}_perplexity']:.2f} |")
    if not rows:
        return ""
    return ("\nHow much of the perplexity comes from sentences whose words cannot line up: perplexity (share of "
            f"the scored tokens) by how many tokens the {tgt} sentence is longer or shorter than the {src} one.\n\n"
            "| split | same length | ±1 | ±2 | ±3 or more | all |\n| --- | --- | --- | --- | --- | --- |\n"
            + "\n".join(rows) + "\n")


def _log_history(model_dir: str) -> list[dict]:
    """The run's log history: trainer_state.json, else the longest one among its checkpoints."""
    import glob

    paths = [os.path.join(model_dir, "trainer_state.json")] + glob.glob(os.path.join(model_dir, "checkpoint-*",
                                                                                   "trainer_state.json"))
    histories = [_load_json(p)["log_history"] for p in paths if os.path.exists(p)]
    return max(histories, key=len) if histories else []


def _count_parameters(model_dir: str) -> int:
    """Parameters stored in the folder's model.safetensors."""
    from math import prod

    from safetensors import safe_open

    with safe_open(os.path.join(model_dir, "model.safetensors"), "pt") as weights:
        return sum(prod(weights.get_slice(name).get_shape()) for name in weights.keys())


# the recipe a search tunes, then its epoch budget, optimiser and seed
HYPER_KEYS = TRAINING_KEYS + ("num_train_epochs", "optim", "seed")


def _run_args(model_dir: str) -> dict | None:
    """The run's flags as training wrote them (``run_args.json``: model, data, training), or None."""
    path = os.path.join(model_dir, "run_args.json")
    return _load_json(path) if os.path.isfile(path) else None


def _hyper_parameters(model_dir: str, allow_pickle: bool = False) -> str:
    """From run_args.json (written by training); training_args.bin is a pickle, read only if allowed."""
    run_args = _run_args(model_dir)
    if run_args:
        values = run_args["training"]
    elif allow_pickle and os.path.exists(os.path.join(model_dir, "training_args.bin")):
        import torch

        values = torch.load(os.path.join(model_dir, "training_args.bin"), weights_only=False).to_dict()
    else:
        return "not recorded (no run_args.json)"
    return ", ".join(f"{k}={_show(values[k])}" for k in HYPER_KEYS if k in values)


def _show(value) -> str:
    """Floats to 4 significant digits (a sampled 0.25303498229109656 reads 0.253); 5.0 reads 5."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _tokenizer_notes(model_dir: str, config: dict, src: str, tgt: str) -> dict[str, str]:
    """The card's sentences on the tokenizer saved in ``model_dir`` (word-level or WordPiece)."""
    try:
        tokenizer = OneLayerTranslatorTokenizer.from_pretrained(model_dir)
        kind, min_frequency = tokenizer.tokenizer_model, tokenizer.min_frequency or "?"
    except (OSError, ValueError):  # a folder saved without its tokenizer
        kind, min_frequency = "word", "?"
    if kind == "bpe":
        return dict(
            tokenizer_note=(f"One joint, cased BPE vocabulary of {config['vocab_size']} {src} and {tgt} sub-words "
                            "(NFKC, `▁` word starts, punctuation split off) trained on the training split."),
            unk_note="Cased output; rare words are spelled from sub-word pieces.")
    target_size = config.get("tgt_vocab_size") or config["vocab_size"]  # the encoder-decoder names it vocab_size
    sizes = f"{config.get('src_vocab_size') or target_size} {src} and {target_size} {tgt} types"
    if kind == "wordpiece":
        return dict(
            tokenizer_note=("Sub-word WordPiece tokenizers (NFKC, lowercase, words split from punctuation, `##` "
                            f"continuation pieces) trained on the training split with `min_frequency={min_frequency}`: "
                            f"{sizes}. Perplexity is per piece, so it does not compare with word-level models'."),
            unk_note=f"Lowercased output; rare words are spelled from pieces; pieces seen fewer than {min_frequency} "
                     "times are `<unk>`.")
    return dict(
        tokenizer_note=("Word-level tokenizers (NFKC, lowercase, words split from punctuation) trained on the training "
                        f"split with `min_frequency={min_frequency}`: {sizes}."),
        unk_note=f"Lowercased output; words seen fewer than {min_frequency} times in training are `<unk>`.")


def pick_examples(sources, references, outputs, n: int) -> list[tuple[str, str, str]]:
    """Half the ``n`` examples where the model does best, half where it does worst (sentence chrF)."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF(lowercase=True)
    rows = sorted(zip(sources, references, outputs), key=lambda r: chrf.sentence_score(r[2], [r[1]]).score)
    worst, best = rows[: n - n // 2], rows[::-1][: n // 2]
    return best + worst
