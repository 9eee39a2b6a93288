"""Pretrained embeddings for a new model: align vectors with our vocabularies, then plan what they change.

:func:`prepare_init` aligns the vectors a spec names (``bert:PATH_OR_ID``, ``glove:PATH``, ...) with
one side of the tokenizer and returns an :class:`EmbeddingInit`: a (V, D) matrix, which rows were
covered, and the coverage numbers that the model config records. :func:`plan_embeddings` turns the
source and target inits into config fields and weights (:class:`EmbeddingPlan`), which
:func:`hf_onelayer.factory.make_model` applies.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field

import torch

from .hub import HubLocation, check_online, hub_vectors, parse_location
from .vectors import VectorFileError, bert_vectors, parse_spec, read_vectors

logger = logging.getLogger(__name__)


@dataclass
class EmbeddingInit:
    """A (V, D) initial embedding matrix for one side, aligned with our vocabulary ids."""

    matrix: torch.Tensor
    covered: torch.Tensor  # (V,) bool: rows taken from the pretrained source
    info: dict  # origin and coverage, recorded in the model config
    extras: dict = field(default_factory=dict)  # BERT position embeddings / LayerNorm


def token_counts(tokenizer_side, texts: list[str]) -> Counter:
    """Training-token counts of a `tokenizers.Tokenizer` side over ``texts``."""
    counts = Counter()
    for encoding in tokenizer_side.encode_batch(texts, add_special_tokens=False):
        counts.update(encoding.ids)
    return counts


def as_word(token: str, tokenizer_side) -> str:
    """The word a vocabulary entry stands for, as word vectors and BERT spell it.

    A SentencePiece-style (Metaspace) vocabulary marks word starts: ``▁dog`` is the word ``dog``, and a
    piece without the mark continues a word, which BERT writes ``##ze``. Other vocabularies are words.
    """
    if token.startswith("<") or "Metaspace" not in str(tokenizer_side.pre_tokenizer):
        return token
    return token[1:] if token.startswith("\u2581") else "##" + token


@dataclass(frozen=True)
class EmbeddingSpec:
    """A pretrained-embedding flag (``bert:PATH_OR_ID``, ``glove:PATH``, ``glove:hf://OWNER/REPO/FILE``, ...),
    parsed once: the vectors' kind, their path or id, and the Hub location when the path is ``hf://``."""

    kind: str
    path: str
    hub: HubLocation | None

    @classmethod
    def parse(cls, spec: "str | EmbeddingSpec") -> "EmbeddingSpec":
        """``VectorFileError`` for a spec that is not KIND:PATH or a malformed ``hf://`` location."""
        if isinstance(spec, cls):
            return spec
        kind, path = parse_spec(spec)
        return cls(kind, path, parse_location(path))

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"


def prepare_init(spec: "str | EmbeddingSpec", tokenizer_side, counts: Counter, uncovered: str = "random",
                 seed: int = 0, allow_pickle: bool = False, special_ids=range(4)) -> EmbeddingInit:
    """Align the vectors named by ``spec`` with a tokenizer side's vocabulary.

    Uncovered rows: ``"random"`` (normal with the pretrained vectors' std) or ``"mean"`` (their mean).
    Coverage: share of vocabulary types (specials excluded) and of training tokens (``counts``).
    """
    if uncovered not in ("random", "mean"):
        raise VectorFileError(f"uncovered must be 'random' or 'mean', got {uncovered!r}")
    spec = EmbeddingSpec.parse(spec)
    kind, path, hub = spec.kind, spec.path, spec.hub
    specials = set(special_ids)
    vocab = {as_word(token, tokenizer_side): i for token, i in tokenizer_side.get_vocab(with_added_tokens=True).items()}
    words = [w for w, i in sorted(vocab.items(), key=lambda item: item[1]) if i not in specials]
    extras = {}
    if kind == "bert":
        if hub is not None:
            check_online(kind, hub)
        vectors, extras = bert_vectors(hub.repo_id if hub else path, words, hub.revision if hub else None)
    elif hub is not None:
        vectors = hub_vectors(kind, hub, set(words), allow_pickle)
    else:
        vectors = read_vectors(kind, path, set(words), allow_pickle)
    if not vectors.words:
        raise VectorFileError(f"{spec}: none of our {len(words)} words has a vector")
    size, dim = len(vocab), vectors.dim
    g = torch.Generator().manual_seed(seed)
    pretrained = torch.from_numpy(vectors.matrix)
    if uncovered == "random":
        matrix = torch.randn(size, dim, generator=g) * vectors.scale + pretrained.mean(0)
    else:
        matrix = pretrained.mean(0).expand(size, dim).clone()
    covered = torch.zeros(size, dtype=torch.bool)
    index = torch.tensor([vocab[w] for w in vectors.words])
    matrix[index] = pretrained
    covered[index] = True
    total_tokens = sum(c for i, c in counts.items() if i not in specials or i == 1)
    covered_tokens = sum(c for i, c in counts.items() if i < size and covered[i])
    info = {
        "source": str(spec), "kind": kind, "dim": dim, "uncovered_init": uncovered,
        "vocab_types": len(words), "covered_types": int(covered.sum()),
        "type_coverage": int(covered.sum()) / max(len(words), 1),
        "token_coverage": covered_tokens / max(total_tokens, 1),
        "vectors_in_source": vectors.total_in_file,
    }
    for key in ("single_piece_words", "piece_mean_words"):
        if key in extras:
            info[key] = extras.pop(key)
    if vectors.subword_words:  # fastText .bin: covered through character n-grams only
        info["subword_words"] = vectors.subword_words
    logger.info("%s: %d/%d types (%.1f %%), %.1f %% of training tokens covered", spec, info["covered_types"],
                len(words), 100 * info["type_coverage"], 100 * info["token_coverage"])
    return EmbeddingInit(matrix, covered, info, extras)


def pca_reduce(matrix: torch.Tensor, dim: int) -> torch.Tensor:
    """Project rows onto their top ``dim`` principal components (centred), keeping the original scale."""
    if dim >= matrix.shape[1]:
        raise VectorFileError(f"PCA to {dim} dims needs vectors wider than that, got {matrix.shape[1]}")
    if dim > matrix.shape[0]:
        raise VectorFileError(f"PCA to {dim} dims needs at least {dim} vectors, got {matrix.shape[0]}")
    mean = matrix.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(matrix - mean, full_matrices=False)
    return (matrix - mean) @ v[:dim].T


@dataclass
class EmbeddingPlan:
    """What pretrained vectors change in a new model: config fields, then the weights to copy in."""

    config_fields: dict  # src/tgt_embedding_dim, embedding_layer_norm, freezing, the embedding_init record
    src: torch.Tensor | None = None  # (V_src, E) source embedding rows
    tgt: torch.Tensor | None = None  # (V_tgt, E) head weights
    bert: dict = field(default_factory=dict)  # BERT position embeddings / LayerNorm, with bert_embedding

    def load_into(self, model) -> None:
        """Copy the planned weights into ``model`` (built from a config with ``config_fields``): source rows into
        its input embeddings, target rows into its output embeddings (the head, tied or not to the decoder's)."""
        config = model.config
        with torch.no_grad():
            if self.src is not None:
                model.get_input_embeddings().weight.copy_(self.src)
                model.get_input_embeddings().weight[config.source_pad_token_id].zero_()
            if self.tgt is not None:
                model.get_output_embeddings().weight.copy_(self.tgt)
            if "position_embeddings" in self.bert:
                positions = self.bert["position_embeddings"]
                if positions.shape[0] < config.max_position_embeddings:
                    raise VectorFileError(f"BERT has {positions.shape[0]} positions, fewer than max_position_embeddings="
                                     f"{config.max_position_embeddings}")
                model.embeddings.embed_positions.weight.copy_(positions[: config.max_position_embeddings])
            if "layer_norm" in self.bert:
                weight, bias, _ = self.bert["layer_norm"]
                model.embeddings.LayerNorm.weight.copy_(weight)
                model.embeddings.LayerNorm.bias.copy_(bias)


def plan_embeddings(config, src: EmbeddingInit | None = None, tgt: EmbeddingInit | None = None,
                    projection: str = "learned", bert_embedding: bool = False, freeze_src: bool = False,
                    freeze_tgt: bool = False, rescale: bool = False) -> EmbeddingPlan:
    """How ``src`` / ``tgt`` enter a model of ``config`` (read, never changed).

    Vectors narrower or wider than ``hidden_size`` get a learned projection (``projection="learned"``,
    part of the model weights) or are reduced by PCA (``"pca"``, wider vectors only). With
    ``bert_embedding`` the BERT position embeddings and embedding LayerNorm are copied too. The config
    records the origin and coverage of each side in ``embedding_init``. With ``rescale`` each matrix is
    multiplied so that its entries have the std of the model's own init (``initializer_range``):
    directions kept, scale of a fresh model (pretrained vectors are often 10x larger, which as head
    weights makes the first logits large).
    """
    if projection not in ("learned", "pca"):
        raise VectorFileError(f"projection must be 'learned' or 'pca', got {projection!r}")
    hidden = config.hidden_size
    fields, record, matrices = {}, {}, {}
    for side, init in (("src", src), ("tgt", tgt)):
        if init is None:
            continue
        matrix = init.matrix
        info = dict(init.info, projection=None, frozen=freeze_src if side == "src" else freeze_tgt)
        if rescale:
            std = float(matrix.std())
            if not std > 0:
                raise VectorFileError(f"--rescale_embeddings: the {side} vectors of {init.info.get('source', '')} are all equal (std 0), "
                                      "so there is no scale to rescale from")
            matrix = matrix * (config.initializer_range / std)
            info["rescaled_from_std"] = std
        if matrix.shape[1] != hidden:
            if projection == "pca" and matrix.shape[1] > hidden and not (side == "src" and bert_embedding):
                matrix = pca_reduce(matrix, hidden)
                info["projection"] = f"pca {init.info['dim']}->{hidden}"
            else:
                fields[f"{side}_embedding_dim"] = matrix.shape[1]
                info["projection"] = f"learned {init.info['dim']}->{hidden}" if side == "src" else \
                    f"learned {hidden}->{init.info['dim']}"
        matrices[side] = matrix
        record[side] = info
    if bert_embedding:
        if src is None or "position_embeddings" not in src.extras:
            raise VectorFileError("bert_embedding needs a BERT source initializer (--src_embeddings bert:...)")
        fields["embedding_layer_norm"] = "layer_norm" in src.extras
        record["src"]["bert_embedding"] = True
    fields.update(freeze_src_embeddings=bool(freeze_src and src is not None),
                  freeze_tgt_embeddings=bool(freeze_tgt and tgt is not None), embedding_init=record or None)
    return EmbeddingPlan(fields, matrices.get("src"), matrices.get("tgt"), src.extras if bert_embedding else {})
