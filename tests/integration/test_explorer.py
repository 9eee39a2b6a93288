"""The attention explorer: its numbers (analysis.views), bertviz inputs, and the Gradio page driven in a real
headless Chromium (Selenium with Debian's chromium-driver), through gradio_client and from the command line."""

import json
import os
import subprocess
import sys

import browser as browser_
import pytest
import torch
from browser import text
from conftest import SOURCES, TARGETS, save_folder, tiny_model

from hf_onelayer.analysis.views import (
    ablation_effect, bertviz_inputs, key_scaling_effect, sentence_attention, source_heads, word_alignment, word_spans,
)

SENTENCE = "Zwei Hunde spielen im Schnee."
COURSE, SEQ2SEQ = "onelayer_translator", "onelayer_seq2seq"  # the kinds' one name


def _pair(kind=SEQ2SEQ):
    """A tiny model of ``kind`` and a joint BPE tokenizer sized to it."""
    from conftest import joint_pair

    model, tok = joint_pair()
    if kind == COURSE:
        model = tiny_model(src_vocab_size=tok.src_vocab_size, tgt_vocab_size=tok.tgt_vocab_size, max_position_embeddings=32)
    return model, tok


def test_word_spans_join_bpe_and_wordpiece_pieces_and_keep_specials_and_punctuation_apart():
    assert word_spans(["<s>", "▁Der", "▁Fahr", "rad", ",", "▁lacht", ".", "</s>"]) == [
        ("<s>", [0]), ("Der", [1]), ("Fahrrad", [2, 3]), (",", [4]), ("lacht", [5]), (".", [6]), ("</s>", [7])]
    assert word_spans(["<s>", "fahr", "##rad", "lacht", "</s>"]) == [
        ("<s>", [0]), ("fahrrad", [1, 2]), ("lacht", [3]), ("</s>", [4])]


def test_word_alignment_sums_a_words_pieces_and_skips_special_rows():
    weights = torch.tensor([[0.1, 0.5, 0.4], [0.6, 0.2, 0.2], [0.0, 0.0, 1.0]])
    pairs = word_alignment(weights, ["▁A", "▁dog", "</s>"], ["▁Ein", "▁Hun", "d"])
    assert pairs == [("A", "Hund", pytest.approx(0.9)), ("dog", "Ein", pytest.approx(0.6))]


@pytest.mark.parametrize("kind", [SEQ2SEQ, COURSE])
def test_sentence_attention_maps_are_distributions_over_the_right_tokens(kind):
    model, tok = _pair(kind)
    seen = sentence_attention(model, tok, SOURCES[0], num_beams=2)
    from hf_onelayer.translation import translate

    assert seen["translation"] == translate(model, tok, SOURCES[0], num_beams=2)
    assert list(seen["maps"]) == (["cross", "encoder", "decoder"] if kind == SEQ2SEQ else ["self"])
    for weights, rows, cols in seen["maps"].values():
        assert weights.shape[-2:] == (len(rows), len(cols))
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    assert seen["maps"][next(iter(seen["maps"]))][2] == seen["source"]


@pytest.mark.parametrize("kind", [SEQ2SEQ, COURSE])
def test_key_scale_one_and_no_ablated_head_change_nothing_and_others_do(kind):
    model, tok = _pair(kind)
    seen = sentence_attention(model, tok, SOURCES[1], num_beams=1)
    same = key_scaling_effect(model, tok, SOURCES[1], seen["output_ids"], 2, 1.0, num_beams=1)
    moved = key_scaling_effect(model, tok, SOURCES[1], seen["output_ids"], 2, 6.0, num_beams=1)
    assert same["kl"].shape == moved["kl"].shape == (1, model.config.num_attention_heads)
    assert torch.all(same["kl"] < 1e-12) and torch.all(moved["kl"] > 0)
    assert same["translation"] == seen["translation"]
    none = ablation_effect(model, tok, SOURCES[1], seen["output_ids"], [], num_beams=1)
    all_off = ablation_effect(model, tok, SOURCES[1], seen["output_ids"], source_heads(model), num_beams=1)
    assert none["ablated_log_prob"] == pytest.approx(none["log_prob"]) and none["translation"] == seen["translation"]
    assert all_off["ablated_log_prob"] != pytest.approx(all_off["log_prob"])
    assert none["log_prob"] < 0


def test_bertviz_inputs_of_both_models_have_bertviz_shapes_and_render():
    model, tok = _pair()
    inputs = bertviz_inputs(model, tok, SOURCES[0], TARGETS[0])
    src, tgt = tok(SOURCES[0])["input_ids"], tok(text_target=TARGETS[0])["input_ids"]  # tgt: labels, no <s>
    assert inputs["encoder_tokens"] == tok.convert_source_ids_to_tokens(src)
    assert inputs["decoder_tokens"] == ["<s>", *tok.convert_target_ids_to_tokens(tgt[:-1])]  # the decoder's inputs
    assert inputs["cross_attention"][0].shape == (1, 2, len(tgt), len(src))
    assert inputs["encoder_attention"][0].shape == (1, 2, len(src), len(src))
    assert inputs["decoder_attention"][0].shape == (1, 2, len(tgt), len(tgt))
    course, _ = _pair(COURSE)
    plain = bertviz_inputs(course, tok, SOURCES[0])
    assert plain["attention"][0].shape == (1, 2, len(src), len(src)) and plain["tokens"][1].startswith("▁")
    with pytest.raises(ValueError, match="without tgt"):
        bertviz_inputs(course, tok, SOURCES[0], TARGETS[0])
    bertviz = pytest.importorskip("bertviz")
    for view in (bertviz.head_view, bertviz.model_view):
        for given in (inputs, plain):
            page = view(**given, html_action="return").data
            assert "<script" in page and json.dumps(given.get("encoder_tokens", given.get("tokens"))[1].replace("▁", " ")) in page  # bertviz's word start


# --- the page, served by `hf-onelayer explore` --------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`hf-onelayer explore` on a free port over a tiny encoder–decoder and a tiny course model; (url, folder)."""
    pytest.importorskip("gradio")
    root = tmp_path_factory.mktemp("explore")
    for kind in (SEQ2SEQ, COURSE):
        save_folder(*_pair(kind), root / kind)
    port = browser_.free_port()
    with open(root / "server.log", "w") as log:
        try:
            server = browser_.serve(["--model", str(root / SEQ2SEQ), str(root / COURSE), "--num_beams", "3"], port, log)
        except RuntimeError as error:
            pytest.fail(f"{error}: {(root / 'server.log').read_text()[-3000:]}")
        yield f"http://127.0.0.1:{port}/", root
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture()
def browser():
    if not (browser_.CHROMIUM and browser_.DRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are missing; .ci/run installs them")
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    pytest.importorskip("selenium")
    driver = browser_.chromium()
    yield driver
    driver.quit()


pytestmark = pytest.mark.xdist_group("explorer")


@pytest.mark.slow
def test_the_page_translates_draws_the_heatmap_and_the_slider_moves_the_kl(served, browser, tmp_path):
    from hf_onelayer.translation import load, translate

    url, root = served
    browser_.open_page(browser, url)
    browser_.press(browser, SENTENCE)
    wait = browser_.wait(browser)
    wait.until(lambda d: browser_.heatmap_src(d) and text(d, "#translation textarea"))  # a heatmap image appears
    model, tok = load(str(root / SEQ2SEQ))
    assert text(browser, "#translation textarea") == translate(model, tok, SENTENCE, num_beams=3)
    course, course_tok = load(str(root / COURSE))
    assert text(browser, "#other textarea") == translate(course, course_tok, SENTENCE)  # the course model beside it
    wait.until(lambda d: "× 1:" in text(d, "#kl"))
    before = text(browser, "#kl")
    browser_.move_slider(browser, 8)  # 1 -> 3 in steps of 0.25
    wait.until(lambda d: "× 3:" in text(d, "#kl"))
    assert text(browser, "#kl") != before
    browser.save_screenshot(str(tmp_path / "explorer.png"))
    assert (tmp_path / "explorer.png").stat().st_size > 10_000


@pytest.mark.slow
def test_an_empty_sentence_shows_the_message_and_a_long_one_says_what_was_cut(served, browser):
    from selenium.webdriver.common.by import By

    from hf_onelayer.explorer import EMPTY

    url, root = served
    browser_.open_page(browser, url)
    wait = browser_.wait(browser)
    browser_.press(browser, "   ")
    wait.until(lambda d: EMPTY in text(d, "#message"))
    assert text(browser, "#translation textarea") == ""
    assert not browser.find_elements(By.CSS_SELECTOR, ".toast-body.error")  # no error toast
    browser_.press(browser, " ".join(["Hund"] * 1000))
    wait.until(lambda d: "was cut" in text(d, "#message"))
    message = text(browser, "#message")
    assert "1,000 words (3,002 tokens)" in message and "reads at most 32 tokens" in message, message
    assert "(2,970 tokens) was cut" in message
    assert text(browser, "#translation textarea")
    browser.find_element(By.CSS_SELECTOR, "#loader button").click()  # a folder that is not a model
    path = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#path textarea"))
    path.send_keys(str(root))
    browser.find_element(By.CSS_SELECTOR, "#load").click()
    wait.until(lambda d: "Cannot load" in text(d, "#message"))
    assert "config.json" in text(browser, "#message")
    assert not browser.find_elements(By.CSS_SELECTOR, ".toast-body.error")


@pytest.mark.slow
def test_the_translate_endpoint_answers_gradio_client(served):
    from gradio_client import Client

    from hf_onelayer.translation import load, translate

    url, root = served
    client = Client(url, verbose=False)
    model, tok = load(str(root / SEQ2SEQ))
    assert client.predict(SENTENCE, api_name="/translate") == translate(model, tok, SENTENCE, num_beams=3)
    assert client.predict("  ", api_name="/translate") == ""


def test_explore_refuses_a_folder_that_is_not_a_model_in_one_line(tmp_path):
    pytest.importorskip("gradio")
    result = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", "explore", "--model", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no config.json" in result.stderr
