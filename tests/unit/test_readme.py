"""The README stays short (issues 22 and 23: under 10,000 characters) and keeps its two set-up commands."""

from conftest import REPO


def test_the_readme_is_under_ten_thousand_characters_and_keeps_its_two_set_up_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < 10_000, len(text.encode("utf-8"))  # bytes: at least the characters
    assert "make train   # creates .venv if missing" in text and "make test    # creates .venv if missing" in text
