"""``COMMAND --help`` answers from the texts saved in hf_onelayer/commands/help/: they must be what the parsers print
now, for every command and analyze subcommand (after changing a flag: `make help-texts`)."""

import json

import pytest

from hf_onelayer import cli

LINES = cli.help_lines()


def test_every_command_and_subcommand_has_a_saved_text_written_at_the_installed_versions():
    assert {path.stem for path in cli.HELP_DIR.glob("*.txt")} == set(LINES), "stale help texts: run `make help-texts`"
    assert json.loads(cli.HELP_VERSIONS.read_text()) == cli._versions()


@pytest.mark.parametrize("key", sorted(LINES))
def test_the_saved_help_is_what_the_parser_prints(key):
    command, sub = LINES[key]
    saved = (cli.HELP_DIR / f"{key}.txt").read_text()
    assert saved.startswith("usage: hf-onelayer")
    assert saved == cli.live_help(command, sub), f"{key}.txt is stale: run `make help-texts`"
    argv = [*([sub] if sub else []), "--help"]
    assert cli.saved_help(command, argv) == saved
    assert cli.saved_help(command, [*argv[:-1], "--model", "x"]) is None  # no help asked: the command runs


def test_other_versions_ask_the_parser(monkeypatch):
    monkeypatch.setattr(cli, "_versions", lambda: {"hf-onelayer": "0.2.0", "transformers": "0.0.1"})
    assert cli.saved_help("train", ["--help"]) is None
