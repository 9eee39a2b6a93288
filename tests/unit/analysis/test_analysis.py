"""The attention analysis module: real properties with fixed seeds."""

import copy
import json
import math

import pytest
import torch
from conftest import SOURCES, TARGETS, joint_pair, tiny_model

from hf_onelayer.analysis import (
    attend,
    attention_weights,
    effective_support,
    entropy,
    study_averaging,
    study_categorical,
    study_peaked,
    study_uncertain_norm,
)
from hf_onelayer.commands.analyze import main as analyze_main
from hf_onelayer.analysis.trained import analyze_model, compare_models


def test_weights_are_a_categorical_distribution():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(500, 12, generator=g) * 5
    mask = torch.rand(500, 12, generator=g) > 0.3
    mask[:, 0] = True
    alpha = attention_weights(scores, mask)
    assert torch.all(alpha >= 0)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(500))
    assert torch.all(alpha[~mask] == 0)


def test_entropy_and_effective_support_bounds():
    one_hot = torch.eye(5)
    uniform = torch.full((1, 5), 0.2)
    assert torch.allclose(entropy(one_hot), torch.zeros(5)) and torch.allclose(effective_support(one_hot), torch.ones(5))
    assert entropy(uniform).item() == pytest.approx(math.log(5)) and effective_support(uniform).item() == pytest.approx(5)


def test_attend_is_the_expected_value_of_v_under_alpha():
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(7, 4, generator=g), torch.randn(7, 6, 4, generator=g), torch.randn(7, 6, 3, generator=g)
    alpha, c = attend(q, k, v)
    torch.testing.assert_close(alpha, torch.softmax((k @ q[..., None]).squeeze(-1), -1))
    torch.testing.assert_close(c, (alpha[..., None] * v).sum(1))


def test_study1_numbers():
    out = study_categorical(samples=2000)
    for row in out["by_scale"]:
        assert row["min_weight"] >= 0 and row["max_abs_sum_minus_1"] < 1e-5 and row["entropy_within_bounds"]
    supports = [row["effective_support"]["mean"] for row in out["by_scale"]]
    assert supports == sorted(supports, reverse=True)  # larger score scale -> fewer positions


def test_study2_peakedness_is_monotone_in_the_margin_and_c_copies_v():
    out = study_peaked(samples=800)
    rows = out["by_margin"]
    max_w = [r["max_weight"] for r in rows]
    ent = [r["entropy"] for r in rows]
    assert all(b > a for a, b in zip(max_w, max_w[1:])), max_w
    assert all(b < a for a, b in zip(ent, ent[1:])), ent
    for r in rows:
        assert r["top_weight_min"] >= r["lower_bound"] - 1e-6
        assert r["copy_error"] <= r["copy_error_bound"] + 1e-5
    assert rows[-1]["max_weight"] > 0.999 and rows[-1]["relative_copy_error"] < 1e-3
    by_norm = [r["max_weight"] for r in out["by_q_norm"] if r["n"] == out["n"]]
    assert by_norm[-1] > 0.99 > by_norm[0]


def test_study3_error_falls_as_beta_grows():
    out = study_averaging(samples=1000, betas=(0.5, 1, 2, 4, 8), alphas=(0.0, 1e-4), ns=(8,), ds=(32,))
    errors = [r["error"] for r in out["by_beta"]]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    exact = [r["relative_error"] for r in out["by_alpha"] if r["alpha"] == 0.0]
    assert exact[-1] < 0.01  # noise-free keys: c is the average to within 1 %


def test_study4_one_head_varies_ten_times_more_than_two_heads():
    out = study_uncertain_norm(samples=20000, betas=(4, 10))
    var = out["projection_variance"]
    assert var["single"] >= 10 * var["multi"]
    assert out["variance_ratio_ci95"][0] >= 10
    assert var["single"] > 10 * var["fixed"]  # far more than with study 3's keys
    assert out["share_near_va"] > 0.2 and out["share_near_vb"] > 0.2  # c swings to either value


@pytest.fixture()
def tiny_trained(small_tokenizer):
    model = tiny_model(src_vocab_size=small_tokenizer.src_vocab_size, tgt_vocab_size=small_tokenizer.tgt_vocab_size)
    enc = small_tokenizer(SOURCES, text_target=TARGETS)
    from hf_onelayer.data import TranslationCollator

    feats = [{"input_ids": i, "labels": [-100] + l[1:]} for i, l in zip(enc["input_ids"], enc["labels"])]
    batch = TranslationCollator(pad_token_id=0)(feats)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(30):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_trained_model_analysis_finds_zero_weight_on_padding(tiny_trained, small_tokenizer, tmp_path):
    stats = analyze_model(tiny_trained, small_tokenizer, SOURCES, SOURCES[:2], out_dir=str(tmp_path), label="tiny")
    assert stats["padded_key_max_weight"] == 0.0
    assert stats["sentences"] == len(SOURCES) and len(stats["heads"]) == 2
    for head in stats["heads"]:
        assert 0 <= head["entropy_mean"] <= stats["uniform_entropy_mean"] + 1e-6
        assert 0 <= head["peaked_share"] <= 1 and 0 <= head["diagonal_mass"] <= 1
    for figure in stats["figures"]:
        assert figure.endswith(".png") and (tmp_path / figure.split("/")[-1]).stat().st_size > 1000
    both = compare_models([("a", tiny_trained, small_tokenizer), ("b", tiny_model(src_vocab_size=small_tokenizer.src_vocab_size, tgt_vocab_size=small_tokenizer.tgt_vocab_size), small_tokenizer)], SOURCES, str(tmp_path))
    assert both["a"]["heads"] != both["b"]["heads"]


def test_simulate_cli_writes_png_json_and_markdown(tmp_path):
    analyze_main(["simulate", "--study", "1", "--samples", "300", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["study"] == 1 and (tmp_path / "summary.md").exists()
    assert (tmp_path / "study1_effective_support.png").stat().st_size > 1000


def test_cross_attention_rows_sum_to_one_and_padded_sources_get_nothing(small_tokenizer):
    from conftest import tiny_seq2seq

    from hf_onelayer.analysis.trained import collect_cross_attention

    tok = copy.deepcopy(small_tokenizer)
    tok.target_special_tokens_pattern = "eos"  # the encoder-decoder's labels: no <s>
    model = tiny_seq2seq(vocab_size=tok.tgt_vocab_size, src_vocab_size=tok.src_vocab_size)
    rows, pad_max = collect_cross_attention(model, tok, SOURCES, TARGETS, batch_size=3)
    assert pad_max == 0.0  # the sources of a batch differ in length, so there were padded keys
    for w, src, tgt in zip(rows, SOURCES, TARGETS):
        n = len(tok(src)["input_ids"])
        t = len(tok(text_target=tgt)["input_ids"])
        assert w.shape[-2:] == (t, n)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


def test_cross_attention_statistics_of_planted_alignments():
    from hf_onelayer.analysis.trained import cross_attention_statistics

    diagonal = torch.eye(5)[None, None]  # (1 layer, 1 head, T=5, S=5): each step on its own source token
    reversed_ = torch.eye(5).flip(-1)[None, None]
    uniform = torch.full((1, 1, 5, 5), 0.2)
    stats = cross_attention_statistics([diagonal])["heads"][0]
    assert stats["peaked_share"] == 1.0 and stats["monotone_share"] == 1.0 and stats["entropy_mean"] == 0.0
    assert cross_attention_statistics([reversed_])["heads"][0]["monotone_share"] == 0.0
    flat = cross_attention_statistics([uniform])
    assert flat["heads"][0]["peaked_share"] == 0.0
    assert flat["heads"][0]["entropy_mean"] == pytest.approx(flat["uniform_entropy_mean"]) == pytest.approx(math.log(5))


def test_the_copy_detector_finds_planted_copies():
    from hf_onelayer.analysis.trained import find_copies

    source = [2, 50, 61, 72, 61, 3]  # <s> Anna sieht 2 sieht </s>
    target = [50, 80, 72, 61, 3]  # Anna sees 2 sieht </s>
    assert find_copies(source, target, copyable={50, 61, 72}) == [(0, 1), (2, 3), (3, 2)]
    assert find_copies(source, target, copyable={72}) == [(2, 3)]
    assert find_copies(source, [80, 81, 3], copyable={50, 61, 72}) == []


def test_copying_in_the_wild_counts_every_written_token(tmp_path):
    from conftest import tiny_seq2seq

    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.analysis.trained import analyze_seq2seq

    sources = ["Anna und Bob sehen 42 Hunde.", "Bob sieht Anna.", "Anna zählt 7 Katzen."]
    targets = ["Anna and Bob see 42 dogs.", "Bob sees Anna.", "Anna counts 7 cats."]
    tok = OneLayerTranslatorTokenizer.train_new(sources * 3, targets * 3, model="bpe", vocab_size=120, min_frequency=1,
                                                target_special_tokens_pattern="eos")
    model = tiny_seq2seq(vocab_size=tok.tgt_vocab_size, max_position_embeddings=32)
    stats = analyze_seq2seq(model, tok, sources, targets, out_dir=str(tmp_path), label="tiny")
    copying = stats["copying"]
    with torch.no_grad():
        written = model.generate(**tok(sources, padding=True, return_tensors="pt"), num_beams=1)[:, 1:].tolist()
    lengths = [row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row) for row in written]
    assert copying["copy_steps"] + copying["other_steps"] == sum(lengths)
    for head in copying["heads"]:
        assert 0 <= head["copy_weight_on_source_token"] <= head["copy_max_weight"] <= 1
    assert (tmp_path / "tiny_cross_attention.png").exists()


def test_ablating_no_head_changes_nothing_and_one_head_changes_the_output():
    from conftest import batch, tiny_seq2seq

    from hf_onelayer.analysis.trained import ablated_heads

    model = tiny_seq2seq()
    ids, mask, labels = batch()
    with torch.no_grad():
        plain = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        with ablated_heads(model, []):
            none = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        with ablated_heads(model, [(0, 1)]):
            one = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        again = model(input_ids=ids, attention_mask=mask, labels=labels).logits  # hooks removed
    torch.testing.assert_close(none, plain)
    torch.testing.assert_close(again, plain)
    assert not torch.allclose(one, plain)
    course = tiny_model()
    course_ids = torch.randint(4, 99, (2, 7))
    with torch.no_grad(), ablated_heads(course, [(0, 0), (0, 1)]):
        both = course(input_ids=course_ids).logits
    block = course.block  # post-norm; with every head dropped, attention gives only its output bias
    x = block.self_attn_norm.norm(course.embeddings(course_ids) + block.self_attn.output.bias)
    torch.testing.assert_close(both, course.lm_head(block.feed_forward_norm.norm(x + block.feed_forward(x))))


def test_scaling_a_key_by_one_is_the_identity_and_other_scales_move_the_output():
    from conftest import batch, tiny_seq2seq

    from hf_onelayer.analysis.trained import scaled_key

    model = tiny_seq2seq()
    ids, mask, labels = batch()
    with torch.no_grad():
        plain = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        with scaled_key(model, position=2, scale=1.0):
            same = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        with scaled_key(model, position=2, scale=4.0):
            moved = model(input_ids=ids, attention_mask=mask, labels=labels).logits
    torch.testing.assert_close(same, plain)
    assert not torch.allclose(moved, plain)


def test_scaled_key_with_a_position_per_row_scales_each_row_on_its_own():
    from conftest import batch, tiny_seq2seq

    from hf_onelayer.analysis.trained import scaled_key

    model = tiny_seq2seq()
    ids, mask, labels = batch()
    positions = torch.tensor([2, 4, 1])
    with torch.no_grad():
        with scaled_key(model, positions, 3.0):
            together = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        for row, position in enumerate(positions.tolist()):
            with scaled_key(model, position, 3.0):
                alone = model(input_ids=ids, attention_mask=mask, labels=labels).logits
            torch.testing.assert_close(together[row], alone[row])


def test_key_scaling_at_one_is_the_identity_and_other_scales_move_the_output():
    from hf_onelayer.analysis.heads import key_scaling_shift, perturbed_positions

    model, tok = joint_pair()
    positions = perturbed_positions(tok, SOURCES, 32, seed=3)
    assert torch.equal(positions, perturbed_positions(tok, SOURCES, 32, seed=3))
    for position, ids in zip(positions.tolist(), tok(SOURCES)["input_ids"]):
        assert ids[position] not in tok.all_special_ids
    shift = key_scaling_shift(model, tok, SOURCES, TARGETS, positions, scales=(1.0, 0.25, 4.0), batch_size=2)
    assert torch.all(shift[1.0] == 0)
    assert torch.all(shift[0.25] > 0) and torch.all(shift[4.0] > 0)
    course = tiny_model(src_vocab_size=tok.src_vocab_size, tgt_vocab_size=tok.tgt_vocab_size)
    course_shift = key_scaling_shift(course, tok, SOURCES, TARGETS, positions, scales=(1.0, 4.0))
    assert torch.all(course_shift[1.0] == 0) and torch.all(course_shift[4.0] > 0)


def test_head_study_of_a_tiny_model_ablates_every_head():
    from datasets import Dataset

    from hf_onelayer.analysis.heads import head_study, perturbed_positions
    from hf_onelayer.trainer import evaluate_model

    model, tok = joint_pair()
    data = Dataset.from_dict({"de": SOURCES, "en": TARGETS})
    positions = perturbed_positions(tok, SOURCES, 32)
    out = head_study(model, tok, data, positions, scales=(1.0, 4.0), bleu_scales=(1.0,))
    assert out["perplexity"] == pytest.approx(evaluate_model(model, tok, data, num_beams=1)["perplexity"])
    assert [(h["layer"], h["head"]) for h in out["heads"]] == [(0, 0), (0, 1)]
    assert all(h["perplexity_increase"] != 0 for h in out["heads"])  # masking a head changes the model
    unscaled, scaled = out["key_scaling"]
    assert unscaled["kl_mean"] == 0 and unscaled["bleu_change"] == 0 and len(unscaled["kl_per_sentence"]) == len(SOURCES)
    assert scaled["kl_mean"] > 0 and "bleu_change" not in scaled


def test_summary_of_planted_runs_gives_the_mean_over_seeds_and_the_kl_ratio():
    from hf_onelayer.analysis.heads import summarize, summary_markdown

    def run(heads, seed, bleu, kl):
        return {"model": "course", "num_heads": heads, "head_dim": 192 // heads, "seed": seed, "bleu": bleu,
                "perplexity": 20.0, "heads": [{"entropy_mean": 1.0, "bleu_drop": 0.5 * seed, "perplexity_increase": 1.0}
                                         for _ in range(heads)],
                "key_scaling": [{"scale": 4.0, "kl_mean": sum(kl) / len(kl), "kl_var": 0.0, "kl_per_sentence": kl}]}

    kl = [0.1, 0.4, 0.2, 0.8, 0.3]
    runs = [run(1, 1, 30.0, [2 * x for x in kl]), run(1, 2, 32.0, [2 * x for x in kl]),
            run(4, 1, 33.0, kl), run(4, 2, 35.0, kl)]
    summary = summarize(runs, resamples=200)
    one = summary["groups"][0]
    assert (one["num_heads"], one["seeds"]) == (1, [1, 2])
    assert one["bleu"][0] == pytest.approx(31.0) and one["bleu"][1] == pytest.approx(2 ** 0.5)
    assert one["max_bleu_drop"][0] == pytest.approx(0.75)
    (ratio,) = summary["robustness"]
    assert ratio["num_heads"] == 4 and ratio["mean_ratio"] == pytest.approx(2.0)
    assert ratio["mean_ratio_ci95"] == pytest.approx([2.0, 2.0]) and ratio["var_ratio"] == pytest.approx(4.0)
    assert "| course | 4 | 4 | 2.00 |" in summary_markdown(summary, 5, "val")


def test_heads_cli_studies_every_run_folder(tmp_path, small_tokenizer):
    from conftest import save_folder

    data = tmp_path / "data"
    data.mkdir()
    (data / "val.de").write_text("\n".join(SOURCES) + "\n", encoding="utf-8")
    (data / "val.en").write_text("\n".join(TARGETS) + "\n", encoding="utf-8")
    sizes = dict(src_vocab_size=small_tokenizer.src_vocab_size, tgt_vocab_size=small_tokenizer.tgt_vocab_size)
    for heads in (1, 2):
        save_folder(tiny_model(num_attention_heads=heads, head_dim_qk=16 // heads, head_dim_v=16 // heads, **sizes),
                    small_tokenizer, tmp_path / "runs" / f"course-h{heads}")
    results = analyze_main(["heads", "--runs", str(tmp_path / "runs"), "--data_dir", str(data), "--out",
                            str(tmp_path / "out")])
    assert [g["num_heads"] for g in results["groups"]] == [1, 2]
    assert [r["num_heads"] for r in results["robustness"]] == [2] * 4  # one ratio per scale
    assert sorted(p.name for p in (tmp_path / "out" / "runs").iterdir()) == ["course-h1.json", "course-h2.json"]
    for figure in results["figures"]:
        assert (tmp_path / "out" / figure.split("/")[-1]).stat().st_size > 1000
