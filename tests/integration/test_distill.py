"""Distillation data (resumable by chunks), checkpoint averaging and the val sweep of the search settings (issue 24)."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import SOURCES, TARGETS, save_folder

from hf_onelayer import distill as distill_module
from hf_onelayer.distill import average, distill
from hf_onelayer.translation import load, translate

MORE = SOURCES + ["Ein Hund spielt im Schnee.", "Eine Frau isst einen Apfel im Park.", "Zwei Männer fahren Fahrrad.",
                  "Ein Kind spielt im Park."]


@pytest.fixture()
def teacher_and_data(tmp_path):
    """A tiny encoder–decoder saved as the teacher, and a Multi30k-style folder of 10 training pairs."""
    from conftest import joint_pair

    model, tok = joint_pair()
    model.generation_config.max_length = 20
    save_folder(model, tok, tmp_path / "teacher")
    data = tmp_path / "data"
    data.mkdir()
    for stem, rows in (("train", MORE), ("val", SOURCES), ("test_2016_flickr", SOURCES)):
        (data / f"{stem}.de").write_text("\n".join(rows) + "\n")
        (data / f"{stem}.en").write_text("\n".join((TARGETS * 2)[: len(rows)]) + "\n")
    return tmp_path / "teacher", data


def test_distill_writes_the_teachers_beam_output_in_the_multi30k_layout(teacher_and_data, tmp_path):
    teacher, data = teacher_and_data
    summary = distill(str(teacher), str(data), str(tmp_path / "out"), num_beams=3, chunk_size=4)
    model, tok = load(str(teacher))
    written = (tmp_path / "out" / "train.en").read_text().split("\n")[:-1]
    assert written == [" ".join(t.split()) for t in translate(model, tok, MORE, num_beams=3)]
    assert (tmp_path / "out" / "train.de").read_text() == (data / "train.de").read_text()
    for name in ("val.de", "val.en", "test_2016_flickr.de", "test_2016_flickr.en"):
        assert (tmp_path / "out" / name).read_text() == (data / name).read_text()
    assert summary["sentences"] == len(MORE) and not (tmp_path / "out" / distill_module.PARTS).exists()
    assert json.loads((tmp_path / "out" / "distill.json").read_text())["num_beams"] == 3


def test_with_references_keeps_each_source_twice_once_with_the_teachers_line_once_with_its_own(teacher_and_data,
                                                                                                tmp_path):
    teacher, data = teacher_and_data
    plain = distill(str(teacher), str(data), str(tmp_path / "plain"), num_beams=2, chunk_size=4)
    both = distill(str(teacher), str(data), str(tmp_path / "both"), num_beams=2, chunk_size=4, with_references=True)
    teacher_lines = (tmp_path / "plain" / "train.en").read_text()
    assert (tmp_path / "both" / "train.en").read_text() == teacher_lines + (data / "train.en").read_text()
    assert (tmp_path / "both" / "train.de").read_text() == (data / "train.de").read_text() * 2
    assert both["with_references"] and not plain["with_references"]


def test_a_killed_distillation_resumes_with_nothing_lost_or_done_twice(teacher_and_data, tmp_path, monkeypatch):
    teacher, data = teacher_and_data
    clean = distill(str(teacher), str(data), str(tmp_path / "clean"), num_beams=2, chunk_size=3)
    calls, real = [], distill_module._teacher

    def dying_teacher(*args):
        run, tokenizer = real(*args)

        def run_then_die(texts):
            calls.append(list(texts))
            if len(calls) == 3:
                raise KeyboardInterrupt  # killed while translating the third chunk
            return run(texts)
        return run_then_die, tokenizer

    monkeypatch.setattr(distill_module, "_teacher", dying_teacher)
    with pytest.raises(KeyboardInterrupt):
        distill(str(teacher), str(data), str(tmp_path / "out"), num_beams=2, chunk_size=3)
    parts = sorted(p.name for p in (tmp_path / "out" / distill_module.PARTS).glob("*.en"))
    assert parts == ["000000.en", "000001.en"] and not (tmp_path / "out" / "train.en").exists()
    calls.clear()
    monkeypatch.setattr(distill_module, "_teacher", lambda *a: (lambda texts: calls.append(list(texts)) or real(*a)[0](texts), real(*a)[1]))
    distill(str(teacher), str(data), str(tmp_path / "out"), num_beams=2, chunk_size=3)
    assert calls == [MORE[6:9], MORE[9:]]  # only the chunks that were missing
    assert (tmp_path / "out" / "train.en").read_text() == (tmp_path / "clean" / "train.en").read_text()
    assert clean["sentences"] == len(MORE)


def test_resuming_with_other_settings_is_refused_in_one_line(teacher_and_data, tmp_path):
    teacher, data = teacher_and_data
    parts = tmp_path / "out" / distill_module.PARTS
    parts.mkdir(parents=True)
    (parts / "settings.json").write_text(json.dumps({"teacher": str(teacher), "num_beams": 5, "chunk_size": 3,
                                                     "engine": "transformers", "sentences": len(MORE)}))
    result = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", "distill", "--teacher", str(teacher), "--data_dir",
                             str(data), "--output_dir", str(tmp_path / "out"), "--num_beams", "2", "--chunk_size", "3"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "num_beams=5" in result.stderr


def test_the_average_of_two_equal_checkpoints_is_the_same_model_and_other_shapes_fail(tmp_path):
    from conftest import tiny_seq2seq

    from hf_onelayer import OneLayerTranslatorTokenizer

    tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 3, TARGETS * 3, model="bpe", vocab_size=120, min_frequency=1,
                                                target_special_tokens_pattern="eos")
    model = tiny_seq2seq(vocab_size=tok.tgt_vocab_size, max_position_embeddings=32)
    for name in ("a", "b"):
        save_folder(model, tok, tmp_path / name)
    out = average([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "avg"), "hf-onelayer average ...")
    averaged, averaged_tok = load(out)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(averaged.state_dict()[name], tensor, rtol=0, atol=1e-7)
    assert translate(averaged, averaged_tok, SOURCES) == translate(model, tok, SOURCES)
    for name in ("generation_config.json", "tokenizer_config.json", "README.md", "modeling_seq2seq.py",
                 "pipeline_onelayer.py"):
        assert (tmp_path / "avg" / name).exists(), name
    # a mean of two different models lies between them
    other = tiny_seq2seq(seed=1, vocab_size=tok.tgt_vocab_size, max_position_embeddings=32)
    save_folder(other, tok, tmp_path / "c")
    mean = load(average([str(tmp_path / "a"), str(tmp_path / "c")], str(tmp_path / "avg2")))[0].state_dict()
    key = "encoder.layers.0.self_attn.query.weight"
    torch.testing.assert_close(mean[key], (model.state_dict()[key] + other.state_dict()[key]) / 2)
    wider = tiny_seq2seq(vocab_size=tok.tgt_vocab_size, max_position_embeddings=32, intermediate_size=40)
    save_folder(wider, tok, tmp_path / "wide")
    result = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", "average", "--checkpoints", str(tmp_path / "a"),
                             str(tmp_path / "wide"), "--output_dir", str(tmp_path / "bad")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "has shape" in result.stderr


def test_the_sweep_scores_every_setting_on_val_and_writes_the_best_into_the_generation_config(teacher_and_data):
    teacher, data = teacher_and_data
    from hf_onelayer.commands.evaluate import main as evaluate

    result = evaluate(["--model", str(teacher), "--data_dir", str(data), "--split", "val", "--sweep",
                       "length_penalty=0.6,1.2", "num_beams=1,3"])
    assert [(r["length_penalty"], r["num_beams"]) for r in result["sweep"]] == [(0.6, 1), (0.6, 3), (1.2, 1), (1.2, 3)]
    best = max(result["sweep"], key=lambda r: r["bleu"])
    config = json.loads((teacher / "generation_config.json").read_text())
    assert config["num_beams"] == best["num_beams"] == result["chosen"]["num_beams"]
    assert config["length_penalty"] == result["chosen"]["length_penalty"] == (
        best["length_penalty"] if best["num_beams"] > 1 else 1.0)  # greedy keeps no length penalty
    assert "| length_penalty | num_beams | BLEU |" in (teacher / "sweep_val.md").read_text()
    model, tok = load(str(teacher))
    from hf_onelayer.metrics import corpus_scores

    one = next(r for r in result["sweep"] if (r["length_penalty"], r["num_beams"]) == (1.2, 3))
    expected = corpus_scores(translate(model, tok, SOURCES, num_beams=3, length_penalty=1.2), TARGETS[: len(SOURCES)])
    assert one["bleu"] == pytest.approx(expected["bleu"])
    bad = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", "evaluate", "--model", str(teacher), "--data_dir",
                          str(data), "--sweep", "temperature=1,2"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "num_beams, length_penalty" in bad.stderr
