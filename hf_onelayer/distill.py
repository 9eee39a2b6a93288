"""Sequence-level knowledge distillation (Kim & Rush, 2016) and checkpoint averaging, for training small students.

    hf-onelayer distill --teacher runs/teacher --data_dir ../shared/data/multi30k --output_dir runs/distilled
    hf-onelayer train training/configs/seq2seq.json --data_dir runs/distilled     # the student
    hf-onelayer average --run runs/seq2seq --last 3 --output_dir runs/averaged

``distill`` writes the teacher's beam translation of every training source as ``train.<tgt>`` beside a copy of
``train.<src>`` and of the other splits (Multi30k's layout, so ``--data_dir`` takes it); ``with_references`` keeps
the human references too, each source twice (Gordon & Duh, 2019: distillation as data augmentation). It works in
chunks: each finished chunk is one file, written whole or not at all, so a killed run goes on where it stopped, with
nothing done twice or lost. ``average`` writes the mean of several checkpoints' weights as a complete saved folder.
"""

import glob
import json
import os
import re
import shutil

from tqdm.auto import tqdm

from .errors import UserError
from .utils import utf8_lines

PARTS = ".distill-parts"


def _teacher(path: str, engine: str, num_beams: int, batch_size: int):
    """(function texts -> translations, tokenizer) of the teacher on ``engine``."""
    if engine == "ctranslate2":
        from .ct2 import Translator

        translator = Translator(path)
        return (lambda texts: translator.translate(texts, num_beams=num_beams, batch_size=batch_size)), translator.tokenizer
    from .translation import load, translate

    model, tokenizer = load(path)
    if not model.config.is_encoder_decoder:
        raise UserError(f"--teacher {path}: the course model writes token for token; distil from an encoder-decoder")
    return (lambda texts: translate(model, tokenizer, texts, batch_size, num_beams=num_beams)), tokenizer


def distill(teacher: str, data_dir: str, output_dir: str, num_beams: int = 5, chunk_size: int = 1000,
            batch_size: int = 64, engine: str = "transformers", with_references: bool = False) -> dict:
    """Write the distilled training split into ``output_dir`` (see the module docstring); returns its summary,
    also saved as ``output_dir/distill.json``. Run again after a kill, it translates only the missing chunks."""
    if chunk_size < 1 or batch_size < 1 or num_beams < 1:
        raise UserError("--chunk_size, --batch_size and --num_beams must be >= 1")
    run, tokenizer = _teacher(teacher, engine, num_beams, batch_size)
    src, tgt = tokenizer.source_lang, tokenizer.target_lang
    source_path = os.path.join(data_dir, f"train.{src}")
    if not os.path.isfile(source_path):
        raise UserError(f"--data_dir {data_dir}: no train.{src} (the teacher translates {src} to {tgt})")
    sources = [line for _, line in utf8_lines(source_path, UserError)]
    parts = os.path.join(output_dir, PARTS)
    os.makedirs(parts, exist_ok=True)
    settings = {"teacher": teacher, "num_beams": num_beams, "chunk_size": chunk_size, "engine": engine,
                "sentences": len(sources)}
    meta = os.path.join(parts, "settings.json")
    if os.path.exists(meta):
        with open(meta, encoding="utf-8") as handle:
            earlier = json.load(handle)
        if earlier != settings:
            changed = next(k for k in settings if earlier.get(k) != settings[k])
            raise UserError(f"{output_dir}: an unfinished run with {changed}={earlier.get(changed)!r} is there (now "
                            f"{settings[changed]!r}); finish it with the same flags or remove {parts}")
    else:
        with open(meta, "w", encoding="utf-8") as handle:
            json.dump(settings, handle)
    starts = range(0, len(sources), chunk_size)
    path_of = lambda start: os.path.join(parts, f"{start // chunk_size:06d}.{tgt}")  # noqa: E731
    todo = [start for start in starts if not os.path.exists(path_of(start))]
    for start in tqdm(todo, desc="distil", unit="chunk", initial=len(starts) - len(todo), total=len(starts)):
        chunk = sources[start : start + chunk_size]
        outputs = run(chunk)
        text = "".join(" ".join(out.split()) + "\n" for out in outputs)  # one line each, whatever the teacher wrote
        tmp = path_of(start) + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path_of(start))  # a chunk file is whole or absent
    # train.<tgt>: the teacher's lines in source order, then (with_references) the human ones; train.<src> to match
    references = [os.path.join(data_dir, f"train.{tgt}")] if with_references else []
    if references and not os.path.isfile(references[0]):
        raise UserError(f"--with_references: {data_dir} has no train.{tgt}")
    sides = ((tgt, [path_of(start) for start in starts] + references), (src, [source_path] * (1 + len(references))))
    for lang, paths in sides:
        with open(os.path.join(output_dir, f"train.{lang}.tmp"), "w", encoding="utf-8") as out:
            for path in paths:
                out.writelines(line + "\n" for _, line in utf8_lines(path, UserError))
        os.replace(os.path.join(output_dir, f"train.{lang}.tmp"), os.path.join(output_dir, f"train.{lang}"))
    for path in glob.glob(os.path.join(data_dir, f"*.{src}")) + glob.glob(os.path.join(data_dir, f"*.{tgt}")):
        if not os.path.basename(path).startswith("train."):  # val and test splits as they are
            shutil.copyfile(path, os.path.join(output_dir, os.path.basename(path)))
    shutil.rmtree(parts)
    summary = {**settings, "with_references": with_references, "data_dir": data_dir, "source_lang": src,
               "target_lang": tgt}
    with open(os.path.join(output_dir, "distill.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    return summary


def checkpoints_of(run: str, last: int) -> list[str]:
    """The ``last`` newest ``checkpoint-STEP`` folders of a training run, oldest first."""
    found = sorted(glob.glob(os.path.join(run, "checkpoint-*")), key=lambda p: int(re.sub(r"\D", "", p.rsplit("-", 1)[1]) or 0))
    if len(found) < last:
        raise UserError(f"--run {run}: {len(found)} checkpoint(s), --last asks for {last} (train with --save_total_limit "
                        f"{last} or more to keep them)")
    return found[-last:]


def average(checkpoints: list[str], output_dir: str, command: str | None = None) -> str:
    """The mean of the checkpoints' weights, saved with the last one's tokenizer, code, generation config and a card."""
    from .trainer import save_pipeline
    from .translation import load

    if len(checkpoints) < 2:
        raise UserError(f"--checkpoints: give two or more, got {len(checkpoints)}")
    model, tokenizer = load(checkpoints[-1])
    total = {name: tensor.double().clone() for name, tensor in model.state_dict().items()}
    for path in checkpoints[:-1]:
        other = load(path)[0].state_dict()
        for name, tensor in total.items():
            if name not in other or other[name].shape != tensor.shape:
                got = tuple(other[name].shape) if name in other else "no such tensor"
                raise UserError(f"{path}: {name} has shape {got} but {checkpoints[-1]} has {tuple(tensor.shape)}; "
                                "average checkpoints of one model")
            tensor += other[name].double()
    dtypes = {name: t.dtype for name, t in model.state_dict().items()}
    model.load_state_dict({name: (t / len(checkpoints)).to(dtypes[name]) for name, t in total.items()})
    save_pipeline(model, tokenizer, output_dir)
    from huggingface_hub import ModelCard

    lines = "\n".join(f"- `{path}`" for path in checkpoints)
    ModelCard(f"---\nlibrary_name: transformers\ntags:\n- translation\n- {model.config.model_type}\n- custom_code\n---\n\n"
              f"# Checkpoint average\n\nThe mean of the weights of {len(checkpoints)} checkpoints of one "
              f"hf-onelayer run:\n\n{lines}\n\nMade by: `{command or 'hf-onelayer average'}`. Evaluate it with "
              "`hf-onelayer evaluate --model THIS_FOLDER`.\n").save(os.path.join(output_dir, "README.md"))
    return output_dir
