"""CTranslate2: the export writes what generate() writes (greedy and beam, token for token), the same text comes
out of translate/evaluate with --engine ctranslate2, and bad input is one line."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import SOURCES, TARGETS, save_folder, tiny_model

pytest.importorskip("ctranslate2")

from hf_onelayer import ct2  # noqa: E402
from hf_onelayer.translation import load, translate  # noqa: E402

MORE = SOURCES + ["Ein Hund spielt im Schnee.", "Eine Frau isst einen Apfel im Park.", "Zwei Männer fahren Fahrrad."]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny random encoder–decoder, saved, and its float32 and int8 exports: (saved, float32, int8)."""
    from conftest import tiny_seq2seq

    from hf_onelayer import OneLayerTranslatorTokenizer

    root = tmp_path_factory.mktemp("ct2")
    tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 3, TARGETS * 3, model="bpe", vocab_size=120, min_frequency=1,
                                                target_special_tokens_pattern="eos")
    # 2 heads of 8 in a hidden size of 32: CTranslate2 is given the head size
    model = tiny_seq2seq(vocab_size=tok.tgt_vocab_size, max_position_embeddings=32, head_dim_qk=8, head_dim_v=8)
    model.generation_config.max_length = 24
    save_folder(model, tok, root / "model")
    for quantization in ("float32", "int8"):
        ct2.export(str(root / "model"), str(root / quantization), quantization)
    return root / "model", root / "float32", root / "int8"


@pytest.mark.parametrize("num_beams", [1, 5])
def test_float32_export_writes_what_generate_writes_token_for_token(exported, num_beams):
    saved, float32, _ = exported
    model, tok = load(str(saved))
    engine = ct2.Translator(str(float32))
    enc = tok(MORE, padding=True, return_tensors="pt")
    with torch.no_grad():
        generated = model.generate(**enc, num_beams=num_beams)
    expected = [[i for i in row[1:] if i not in (tok.eos_token_id, tok.pad_token_id)] for row in generated.tolist()]
    written = engine.translate_ids([tok(s)["input_ids"] for s in MORE], num_beams=num_beams)
    assert written == expected
    assert any(len(row) > 3 for row in expected)  # the tiny model writes real sequences, not only </s>


def test_translate_text_matches_the_transformers_path_blank_lines_included(exported):
    saved, float32, int8 = exported
    model, tok = load(str(saved))
    texts = [SOURCES[0], "", "   ", SOURCES[1]]
    assert ct2.Translator(str(float32)).translate(texts) == translate(model, tok, texts)
    assert ct2.Translator(str(float32)).translate(SOURCES[2], num_beams=1) == translate(model, tok, SOURCES[2], num_beams=1)
    quantized = ct2.Translator(str(int8)).translate(texts)
    assert len(quantized) == 4 and quantized[1] == quantized[2] == "" and quantized[0]
    info = json.loads((int8 / ct2.INFO_FILE).read_text())
    assert info["quantization"] == "int8" and info["max_position_embeddings"] == 32
    assert (int8 / "model.bin").stat().st_size < (float32 / "model.bin").stat().st_size


def test_long_sources_are_cut_and_counted(exported):
    saved, float32, _ = exported
    model, tok = load(str(saved))
    engine = ct2.Translator(str(float32))
    long = " ".join(["Hund"] * 200)
    assert engine.translate([long, SOURCES[0]], num_beams=1) == translate(model, tok, [long, SOURCES[0]], num_beams=1)
    assert engine.n_truncated == 1


def test_the_engine_reads_the_tokenizer_files_as_the_tokenizer_does(exported):
    saved, float32, _ = exported
    _, tok = load(str(saved))
    engine = ct2.Translator(str(float32))
    texts = MORE + ["  Ein   Hund  ", "Ein <s> Hund </s> <unk>", "Äpfel, Bäume & Öl! 12:30", " ".join(["Hund"] * 200)]
    for text in texts:
        assert engine.encode(text) == tok(text, truncation=True, max_length=32)["input_ids"], text
    written = engine.translate_ids([engine.encode(t) for t in MORE], num_beams=2)
    assert [engine.decode(ids) for ids in written] == tok.batch_decode(written, skip_special_tokens=True)
    with_specials = [tok.bos_token_id, *written[0], tok.eos_token_id, tok.pad_token_id]
    assert engine.decode(with_specials) == tok.decode(with_specials, skip_special_tokens=True)


def test_translate_with_ctranslate2_imports_neither_torch_nor_transformers(exported):
    float32 = exported[1]
    code = ("import sys; from hf_onelayer.cli import run; code = run('translate', ['--engine', 'ctranslate2', "
            f"'--model', {str(float32)!r}, 'Ein Hund.']); "
            "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "0 []"


def _cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "hf_onelayer.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=300)


def test_cli_translate_and_evaluate_with_the_ctranslate2_engine(exported, tmp_path):
    saved, float32, _ = exported
    model, tok = load(str(saved))
    out = _cli("translate", "--engine", "ctranslate2", "--model", str(float32), "--num_beams", "2",
               stdin=f"{SOURCES[0]}\n\n{SOURCES[1]}\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == translate(model, tok, [SOURCES[0], "", SOURCES[1]], num_beams=2)
    (tmp_path / "s.de").write_text("\n".join(SOURCES) + "\n")
    (tmp_path / "r.en").write_text("\n".join(TARGETS) + "\n")
    result = _cli("evaluate", "--engine", "ctranslate2", "--model", str(float32), "--source_file",
                  str(tmp_path / "s.de"), "--reference_file", str(tmp_path / "r.en"), "--num_beams", "1")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    from hf_onelayer.metrics import corpus_scores

    assert scores["bleu"] == pytest.approx(corpus_scores(translate(model, tok, SOURCES, num_beams=1), TARGETS)["bleu"])
    assert scores["engine"] == "ctranslate2" and scores["n_sentences"] == len(SOURCES)


@pytest.mark.parametrize("args, words", [
    (["export-ct2", "--model", "{course}", "--output_dir", "{tmp}/x"], "course model"),
    (["export-ct2", "--model", "{tmp}/missing", "--output_dir", "{tmp}/x"], "missing"),
    (["export-ct2", "--model", "{saved}", "--output_dir", "{tmp}/x", "--quantization", "int4"], "int8, int16, float32"),
    (["translate", "--engine", "ctranslate2", "Hallo"], "needs --model"),
    (["translate", "--engine", "ctranslate2", "--model", "{saved}", "Hallo"], "export-ct2"),
])
def test_bad_export_and_engine_input_is_one_line(exported, tmp_path, args, words):
    saved = exported[0]
    course = tmp_path / "course"
    if "{course}" in args:
        from hf_onelayer import OneLayerTranslatorTokenizer

        tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, min_frequency=2)
        save_folder(tiny_model(src_vocab_size=tok.src_vocab_size, tgt_vocab_size=tok.tgt_vocab_size), tok, course)
    result = _cli(*[a.format(course=course, tmp=tmp_path, saved=saved) for a in args])
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr
