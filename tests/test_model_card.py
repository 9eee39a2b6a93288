"""Model-card helpers that need no trained run."""

from hf_onelayer.model_card import pick_examples


def test_examples_show_the_best_half_then_the_worst_half():
    sources = ["a", "b", "c", "d", "e"]
    references = ["a man rides a bike .", "two dogs play .", "a woman sings .", "a child eats .", "the sun shines ."]
    outputs = ["a man rides a bike .", "xyz", "a woman sings loudly .", "qqq", "the sun ."]
    picked = pick_examples(sources, references, outputs, 4)
    assert [p[0] for p in picked[:2]] == ["a", "c"]  # best first (exact match, then near match)
    assert {p[0] for p in picked[2:]} == {"b", "d"}  # the two with nothing right


def test_embedding_note_names_each_initialised_side_and_the_random_one():
    from hf_onelayer.model_card import _embedding_note

    record = {"tgt": {"source": "bert:/models/minilm", "kind": "bert", "dim": 384, "type_coverage": 0.5,
                      "projection": "learned 256->384", "frozen": False}}
    note = _embedding_note(record)
    assert "English head weights from `bert:/models/minilm`" in note and "50.0% of the vocabulary" in note
    assert "learned 256->384 projection" in note and "trained further" in note
    assert note.endswith("German token embeddings at random.")
    frozen = _embedding_note({"src": dict(record["tgt"], frozen=True, projection=None)})
    assert "German token embeddings from" in frozen and "kept frozen" in frozen and "projection" not in frozen
    assert "at random (normal" in _embedding_note(None)
