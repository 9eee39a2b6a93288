"""Model-card helpers that need no trained run."""

from hf_onelayer.hub.model_card import build_card, pick_examples


def test_examples_show_the_best_half_then_the_worst_half():
    sources = ["a", "b", "c", "d", "e"]
    references = ["a man rides a bike .", "two dogs play .", "a woman sings .", "a child eats .", "the sun shines ."]
    outputs = ["a man rides a bike .", "xyz", "a woman sings loudly .", "qqq", "the sun ."]
    picked = pick_examples(sources, references, outputs, 4)
    assert [p[0] for p in picked[:2]] == ["a", "c"]  # best first (exact match, then near match)
    assert {p[0] for p in picked[2:]} == {"b", "d"}  # the two with nothing right


def card_text(tmp_path, embedding_init) -> str:
    """The card that build_card writes for a tiny saved model whose config records ``embedding_init``."""
    import json

    from conftest import tiny_model

    folder = tmp_path / "model"
    tiny_model(embedding_init=embedding_init).save_pretrained(folder)
    metrics = {f"eval_{m}": v for m, v in (("perplexity", 19.6), ("bleu", 20.1), ("chrf", 41.7),
                                           ("token_accuracy", 0.38))}
    (folder / "all_results.json").write_text(json.dumps(metrics))
    return build_card(str(folder), "make train").content


def test_card_names_each_initialised_side_and_the_random_one(tmp_path):
    record = {"tgt": {"source": "bert:/models/minilm", "kind": "bert", "dim": 384, "type_coverage": 0.5,
                      "projection": "learned 256->384", "frozen": False}}
    note = next(line for line in card_text(tmp_path / "a", record).splitlines() if line.startswith("Initialised:"))
    assert "English head weights from `bert:/models/minilm`" in note and "50.0% of the vocabulary" in note
    assert "learned 256->384 projection" in note and "trained further" in note
    assert note.endswith("German token embeddings at random.")
    frozen_record = {"src": dict(record["tgt"], frozen=True, projection=None)}
    frozen = next(line for line in card_text(tmp_path / "b", frozen_record).splitlines()
                  if line.startswith("Initialised:"))
    assert "German token embeddings from" in frozen and "kept frozen" in frozen and "projection" not in frozen
    assert "at random (normal" in card_text(tmp_path / "c", None)


def test_card_says_what_the_run_trained_on_multi30k_or_a_teachers_translations(tmp_path, monkeypatch):
    import json

    from conftest import tiny_model

    folder = tmp_path / "model"
    tiny_model().save_pretrained(folder)
    metrics = {"eval_perplexity": 19.6, "eval_bleu": 20.1, "eval_chrf": 41.7, "train_samples": 58000,
               "eval_samples": 1014}
    (folder / "all_results.json").write_text(json.dumps(metrics))
    distilled = tmp_path / "distilled"
    distilled.mkdir()
    (folder / "run_args.json").write_text(json.dumps({"data": {"data_dir": str(distilled)}, "training": {}}))
    produced = lambda: next(line for line in build_card(str(folder), "make x").content.splitlines()  # noqa: E731
                            if line.startswith("Produced by"))
    assert produced() == "Produced by: `make x` on Multi30k task 1 raw files (train 58,000; val 1,014)."
    (distilled / "distill.json").write_text(json.dumps({"teacher": "runs/teacher-ct2", "num_beams": 5,
                                                        "with_references": True}))
    line = produced()
    assert "the teacher `runs/teacher-ct2`'s beam-5 translations of Multi30k task 1's training sources, each source " \
           "also with its human reference" in line and line.endswith("(train 58,000; val 1,014).")
