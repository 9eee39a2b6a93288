"""Pretrained embedding initialisers (BERT, GloVe, word2vec, fastText) and in-domain vector training.

* ``vectors.py``: read vector files and BERT checkpoints, streamed and checked line by line;
* ``init.py``: align them with a tokenizer side and plan what they change in a new model;
* ``pretrain.py``: train word2vec and GloVe vectors on the training split.
"""

from .init import EmbeddingInit, EmbeddingPlan, pca_reduce, plan_embeddings, prepare_init, token_counts
from .vectors import KINDS, VectorFileError, Vectors, bert_vectors, parse_spec, read_vectors

__all__ = [
    "KINDS", "EmbeddingInit", "EmbeddingPlan", "VectorFileError", "Vectors", "bert_vectors", "parse_spec",
    "pca_reduce", "plan_embeddings", "prepare_init", "read_vectors", "token_counts",
]
