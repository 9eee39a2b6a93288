"""Model-card helpers that need no trained run."""

from hf_onelayer.model_card import pick_examples


def test_examples_show_the_best_half_then_the_worst_half():
    sources = ["a", "b", "c", "d", "e"]
    references = ["a man rides a bike .", "two dogs play .", "a woman sings .", "a child eats .", "the sun shines ."]
    outputs = ["a man rides a bike .", "xyz", "a woman sings loudly .", "qqq", "the sun ."]
    picked = pick_examples(sources, references, outputs, 4)
    assert [p[0] for p in picked[:2]] == ["a", "c"]  # best first (exact match, then near match)
    assert {p[0] for p in picked[2:]} == {"b", "d"}  # the two with nothing right
