"""In-domain word vectors trained on the Multi30k training split (``hf-onelayer pretrain-vectors``).

:func:`pretrain_vectors` writes, for each language L in {de, en}:

* ``word2vec.L.bin`` and ``word2vec.L.txt``: gensim word2vec (skip-gram), word2vec binary and text formats;
* ``glove.L.txt``: GloVe vectors in GloVe text format (no header), trained by :func:`train_glove`,
  a small co-occurrence + weighted least-squares trainer (Pennington et al. 2014) in torch, since no
  maintained GloVe package installs here.

Words are split exactly as the translator's tokenizer splits them (NFKC, lowercase, punctuation).
"""

import json
import logging
import os
from collections import Counter

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG
from ..models.tokenization_onelayer import word_splitter

logger = logging.getLogger(__name__)


def tokenize_corpus(texts: list[str]) -> list[list[str]]:
    """Sentences split into the tokenizer's words (its normalizer and pre-tokenizer, no vocabulary cut)."""
    normalizer, pre_tokenizer = word_splitter()
    return [[word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))] for text in texts]


def train_word2vec(sentences: list[list[str]], dim: int, window: int = 5, min_count: int = 2, epochs: int = 10,
                   seed: int = 0, workers: int = 2):
    from gensim.models import Word2Vec

    model = Word2Vec(sentences, vector_size=dim, window=window, min_count=min_count, sg=1, epochs=epochs,
                     seed=seed, workers=workers)
    return model.wv


def cooccurrences(sentences: list[list[str]], vocab: dict[str, int], window: int = 10):
    """Symmetric co-occurrence counts weighted by 1/distance: (rows, cols, values) over pairs seen."""
    counts = Counter()
    for sentence in sentences:
        ids = [vocab[w] for w in sentence if w in vocab]
        for i, a in enumerate(ids):
            for offset in range(1, window + 1):
                if i + offset >= len(ids):
                    break
                b = ids[i + offset]
                counts[(a, b)] += 1.0 / offset
                counts[(b, a)] += 1.0 / offset
    pairs = np.array(list(counts.keys()), dtype=np.int64).reshape(-1, 2)
    values = np.array(list(counts.values()), dtype=np.float32)
    return torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1]), torch.from_numpy(values)


def train_glove(sentences: list[list[str]], dim: int, min_count: int = 2, window: int = 10, epochs: int = 50,
                x_max: float = 100.0, power: float = 0.75, lr: float = 0.05, batch_size: int = 65536,
                seed: int = 0) -> tuple[list[str], np.ndarray, list[float]]:
    r"""GloVe: minimise :math:`\sum_{ij} f(X_{ij})(w_i^\top \tilde w_j + b_i + \tilde b_j - \log X_{ij})^2`.

    ``f(x) = min(1, (x / x_max)^power)``; AdaGrad as in the paper; returns (words, W + W~, loss per epoch).
    """
    freq = Counter(w for s in sentences for w in s)
    words = [w for w, c in sorted(freq.items(), key=lambda item: (-item[1], item[0])) if c >= min_count]
    vocab = {w: i for i, w in enumerate(words)}
    rows, cols, x = cooccurrences(sentences, vocab, window)
    g = torch.Generator().manual_seed(seed)
    n = len(words)
    w = ((torch.rand(n, dim, generator=g) - 0.5) / dim).requires_grad_()
    w_ctx = ((torch.rand(n, dim, generator=g) - 0.5) / dim).requires_grad_()
    b = torch.zeros(n, requires_grad=True)
    b_ctx = torch.zeros(n, requires_grad=True)
    optimizer = torch.optim.Adagrad([w, w_ctx, b, b_ctx], lr=lr)
    weight = (x / x_max).pow(power).clamp(max=1.0)
    log_x = x.log()
    losses = []
    for _ in tqdm(range(epochs), desc="GloVe epochs"):
        order = torch.randperm(len(x), generator=g)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            i, j = rows[idx], cols[idx]
            diff = (w[i] * w_ctx[j]).sum(-1) + b[i] + b_ctx[j] - log_x[idx]
            loss = (weight[idx] * diff.pow(2)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total / len(x))
    return words, (w + w_ctx).detach().numpy(), losses


def write_glove(path: str, words: list[str], matrix: np.ndarray) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for word, row in zip(words, matrix):
            handle.write(word + " " + " ".join(f"{v:.6f}" for v in row) + "\n")


def pretrain_vectors(train_pairs, out: str, dim: int = 128, min_count: int = 2, word2vec_epochs: int = 10,
                     glove_epochs: int = 50, seed: int = 0, languages=(DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG)) -> dict:
    """Train and write word2vec and GloVe vectors for each language column of ``train_pairs``.

    Returns a report per language (sentences, words kept, GloVe loss first/last), also written to
    ``out/pretrain_vectors.json`` with the arguments.
    """
    os.makedirs(out, exist_ok=True)
    report = {}
    for lang in languages:
        sentences = tokenize_corpus(train_pairs[lang])
        kv = train_word2vec(sentences, dim, min_count=min_count, epochs=word2vec_epochs, seed=seed)
        kv.save_word2vec_format(os.path.join(out, f"word2vec.{lang}.bin"), binary=True)
        kv.save_word2vec_format(os.path.join(out, f"word2vec.{lang}.txt"), binary=False)
        words, matrix, losses = train_glove(sentences, dim, min_count=min_count, epochs=glove_epochs, seed=seed)
        write_glove(os.path.join(out, f"glove.{lang}.txt"), words, matrix)
        report[lang] = {"sentences": len(sentences), "word2vec_words": len(kv.index_to_key),
                        "glove_words": len(words), "glove_loss_first_last": [losses[0], losses[-1]]}
    settings = dict(out=out, dim=dim, min_count=min_count, word2vec_epochs=word2vec_epochs,
                    glove_epochs=glove_epochs, seed=seed, languages=list(languages))
    with open(os.path.join(out, "pretrain_vectors.json"), "w", encoding="utf-8") as handle:
        json.dump({"args": settings, "report": report}, handle, indent=2)
    return report
