import json

import pytest
import torch
from conftest import tiny_config

from hf_onelayer.data import (
    DEFAULT_HUB_DATASET,
    DataError,
    TranslationCollator,
    load_hub_dataset,
    load_local_folder,
    load_translation_data,
    read_jsonl,
    read_parallel_files,
    tokenize_split,
)


def write(path, text: str | bytes):
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(path)


@pytest.fixture()
def multi30k_folder(tmp_path):
    for stem in ("train", "val", "test_2016_flickr"):
        write(tmp_path / f"{stem}.de", "Ein Hund.\nZwei Katzen.\n")
        write(tmp_path / f"{stem}.en", "A dog.\nTwo cats.\n")
    return tmp_path


def test_local_folder_gives_three_splits(multi30k_folder):
    data = load_translation_data(data_dir=str(multi30k_folder))
    assert set(data) == {"train", "validation", "test"}
    assert data["train"][1] == {"de": "Zwei Katzen.", "en": "Two cats."}


def test_real_multi30k_folder(data_dir):
    data = load_local_folder(str(data_dir))
    assert {s: len(d) for s, d in data.items()} == {"train": 29000, "validation": 1014, "test": 1000}


def test_files_of_different_lengths_name_both_files(tmp_path):
    de, en = write(tmp_path / "a.de", "Eins.\nZwei.\nDrei.\n"), write(tmp_path / "a.en", "One.\nTwo.\n")
    with pytest.raises(DataError, match=r"a\.de has 3 lines but .*a\.en has 2"):
        read_parallel_files(de, en)


def test_empty_line_names_file_and_line(tmp_path):
    de, en = write(tmp_path / "b.de", "Eins.\n\nDrei.\n"), write(tmp_path / "b.en", "One.\nTwo.\nThree.\n")
    with pytest.raises(DataError, match=r"b\.de:2: empty line"):
        read_parallel_files(de, en)


def test_undecodable_bytes_name_file_and_line(tmp_path):
    de = write(tmp_path / "c.de", b"Eins.\nZwei \xff\xfe.\n")
    en = write(tmp_path / "c.en", "One.\nTwo.\n")
    with pytest.raises(DataError, match=r"c\.de:2: not valid UTF-8"):
        read_parallel_files(de, en)


def test_missing_split_file_is_named(multi30k_folder):
    (multi30k_folder / "val.en").unlink()
    with pytest.raises(DataError, match=r"val\.en"):
        load_local_folder(str(multi30k_folder))


def test_jsonl_in_run_translation_format(tmp_path):
    lines = [json.dumps({"translation": {"de": "Ein Hund.", "en": "A dog."}}),
             json.dumps({"translation": {"de": "Eine Katze.", "en": "A cat.", "fr": "Un chat."}})]
    path = write(tmp_path / "train.jsonl", "\n".join(lines) + "\n")
    data = load_translation_data(train_file=path, validation_file=path)
    assert set(data) == {"train", "validation"} and data["train"]["en"] == ["A dog.", "A cat."]


@pytest.mark.parametrize("bad", ['{"translation": {"de": "x"}}', "{not json", '{"de": "x", "en": "y"}',
                                 '{"translation": {"de": "", "en": "y"}}'])
def test_malformed_jsonl_names_file_and_line(tmp_path, bad):
    good = json.dumps({"translation": {"de": "Ein Hund.", "en": "A dog."}})
    path = write(tmp_path / "bad.jsonl", f"{good}\n{bad}\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2:"):
        read_jsonl(path)


def test_hub_id_offline_fails_at_once_and_says_how_to_pass_a_folder():
    with pytest.raises(ConnectionError, match=r"HF_HUB_OFFLINE.*--data_dir"):
        load_hub_dataset(DEFAULT_HUB_DATASET)
    with pytest.raises(ConnectionError, match="--data_dir"):
        load_translation_data(dataset_name=DEFAULT_HUB_DATASET)


HUB_DATA = """
import json, sys
from hf_onelayer.cli import run
from hf_onelayer.data import load_translation_data
default = load_translation_data()  # no folder, no files: the Hub dataset
print(json.dumps({split: ds[:] for split, ds in default.items()}))
out = sys.argv[1]
code = run("train", ["--dataset_name", "someone/fr-en", "--source_lang", "fr", "--output_dir", out, "--min_frequency",
                     "1", "--max_steps", "1", "--report_to", "none", "--disable_tqdm", "true"])
print(json.dumps({"code": code, "tokenizer": json.load(open(out + "/tokenizer_config.json"))}))
"""


def test_hub_datasets_through_the_hub_client_and_make_train_falls_back_to_one(tmp_path):
    # the local Hub serves a Multi30k-like repo (as bentrevett/multi30k: JSON lines with en/de keys) and one with a
    # `translation` column; `datasets.load_dataset` reads both through HF_ENDPOINT
    import os
    import secrets
    import subprocess
    import sys

    from conftest import REPO, SOURCES, TARGETS
    from hub_server import LocalHub

    def lines(rows):
        return "".join(json.dumps(row) + "\n" for row in rows).encode()

    multi30k = {f"{split}.jsonl": lines({"en": en, "de": de} for en, de in zip(TARGETS[:n], SOURCES[:n]))
                for split, n in (("train", 6), ("val", 2), ("test", 3))}
    french = ["Un homme fait du vélo.", "Deux chiens jouent dans la neige.", "Une femme joue de la guitare."]
    pairs = {f"{split}.jsonl": lines({"id": i, "translation": {"fr": fr, "en": en}}
                                     for i, (fr, en) in enumerate(zip(french, TARGETS)))
             for split in ("train", "validation", "test")}
    with LocalHub("hf_" + secrets.token_hex(16)) as hub:
        hub.add_repo(DEFAULT_HUB_DATASET, {"README.md": b"# multi30k", **multi30k}, repo_type="dataset")
        hub.add_repo("someone/fr-en", pairs, repo_type="dataset")
        env = {k: v for k, v in os.environ.items() if "OFFLINE" not in k and k != "HF_TOKEN"}
        env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1")
        result = subprocess.run([sys.executable, "-c", HUB_DATA, str(tmp_path / "run")], env=env, capture_output=True,
                                text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    default, trained = (json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"'))
    assert {split: len(rows["de"]) for split, rows in default.items()} == {"train": 6, "validation": 2, "test": 3}
    assert default["test"] == {"de": SOURCES[:3], "en": TARGETS[:3]}
    assert trained["code"] == 0, result.stderr[-3000:]
    assert (trained["tokenizer"]["source_lang"], trained["tokenizer"]["target_lang"]) == ("fr", "en")
    # `make train` reads DATA when it holds Multi30k's files, else the Hub dataset
    stamp, folder = tmp_path / "stamp", tmp_path / "multi30k"  # a fresh stamp: make installs nothing
    stamp.touch()
    folder.mkdir()
    (folder / "train.de").touch()

    def make_train(data):
        return subprocess.run(["make", "-n", "train", f"DATA={data}", f"STAMP={stamp}"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout

    assert f"--dataset_name {DEFAULT_HUB_DATASET}" in make_train(tmp_path / "absent")
    assert f"--data_dir {folder}" in make_train(folder) and "--dataset_name" not in make_train(folder)


def test_long_sentences_are_truncated_and_counted(small_tokenizer, caplog):
    from datasets import Dataset

    data = Dataset.from_dict({"de": ["Ein Mann fährt Fahrrad.", "Ein Kind."], "en": ["A child.", "A child."]})
    with caplog.at_level("WARNING"):
        out = tokenize_split(data, small_tokenizer, max_length=5)
    assert out.n_truncated == 1 and "1 of 2 sentence pairs" in caplog.text
    first = out.dataset[0]
    assert len(first["input_ids"]) == 5 and first["input_ids"][-1] == small_tokenizer.eos_token_id
    assert first["labels"][0] == -100 and first["labels"][1:] == small_tokenizer(text_target="A child.")["input_ids"][1:]


def test_collator_pads_dynamically_to_the_longest_side():
    features = [{"input_ids": [2, 5, 3], "labels": [-100, 6, 7, 8, 3]},
                {"input_ids": [2, 5, 6, 7, 3, 3][:4], "labels": [-100, 6, 3]}]
    batch = TranslationCollator(pad_token_id=0)(features)
    assert batch["input_ids"].shape == (2, 5)  # longest target, not a fixed 43
    assert batch["input_ids"][0].tolist() == [2, 5, 3, 0, 0] and batch["attention_mask"][0].tolist() == [1, 1, 1, 0, 0]
    assert batch["labels"][1].tolist() == [-100, 6, 3, -100, -100]
    assert TranslationCollator(pad_token_id=0, pad_to_multiple_of=8)(features)["input_ids"].shape == (2, 8)
    assert TranslationCollator(pad_token_id=0, fixed_length=43)(features)["labels"].shape == (2, 43)


def test_eval_collator_offers_the_translation_positions():
    config = tiny_config(max_position_embeddings=40, decode_length_ratio=1.5, decode_length_offset=5)
    features = [{"input_ids": [2, 5, 6, 7, 3], "labels": [-100, 6, 3]}]
    batch = TranslationCollator(pad_token_id=0, config=config, decoding_positions=True)(features)
    assert batch["input_ids"].shape == (1, 13)  # ceil(1.5 * 5) + 5
    assert torch.all(batch["labels"][0, 3:] == -100)


def test_hub_datasets_with_a_translation_column_or_language_columns():
    from datasets import Dataset

    from hf_onelayer.data import DataError, language_columns

    nested = Dataset.from_dict({"id": [0, 1], "translation": [{"fr": "Un chien.", "en": "A dog."},
                                                              {"fr": "Un chat.", "en": "A cat."}]})
    flat = language_columns(nested, "fr", "en", "split 'train'")
    assert flat.column_names == ["fr", "en"] and flat[1] == {"fr": "Un chat.", "en": "A cat."}
    columns = Dataset.from_dict({"cs": ["Pes."], "en": ["A dog."], "image": ["x.jpg"]})
    assert language_columns(columns, "cs", "en", "split 'train'").column_names == ["cs", "en"]
    with pytest.raises(DataError, match="languages \\['en', 'fr'\\], not 'de' and 'en'"):
        language_columns(nested, "de", "en", "split 'train'")
    with pytest.raises(DataError, match="no 'de'/'en' columns and no 'translation' column"):
        language_columns(columns, "de", "en", "split 'train'")


def test_other_language_pairs_from_a_folder_and_json_lines(data_dir, tmp_path):
    from hf_onelayer.data import DataError, load_translation_data

    french = load_translation_data(data_dir, splits=("val",), source_lang="fr", target_lang="en")["validation"]
    assert french.column_names == ["fr", "en"] and len(french) == 1014
    assert french[0]["en"] == (data_dir / "val.en").read_text(encoding="utf-8").splitlines()[0]
    lines = tmp_path / "pairs.jsonl"
    lines.write_text('{"translation": {"cs": "Pes.", "en": "A dog."}}\n', encoding="utf-8")
    assert load_translation_data(train_file=str(lines), source_lang="cs")["train"][0] == {"cs": "Pes.", "en": "A dog."}
    with pytest.raises(DataError, match='expected \\{"translation": \\{"de": ..., "en": ...\\}\\}'):
        load_translation_data(train_file=str(lines))
    with pytest.raises(DataError, match="missing .*val.xx"):
        load_translation_data(data_dir, splits=("val",), source_lang="xx")
    with pytest.raises(DataError, match="two different language codes"):
        load_translation_data(data_dir, source_lang="en", target_lang="en")
