"""A baseline built like the course model, for benchmarks only (not part of the package).

Eager attention with one set of separate ``nn.Linear`` query/key/value layers per head, no padding
mask, every batch padded to 43 positions, and the head + loss over every position.
Same sizes as our defaults: hidden 128, 2 heads, q/k/v 96, FFN 2048.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

COURSE_LENGTH = 43


class Head(nn.Module):
    def __init__(self, hidden: int, d_qk: int, d_v: int):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(hidden, d_qk), nn.Linear(hidden, d_qk), nn.Linear(hidden, d_v)

    def forward(self, x):  # (B, T, C) -> (B, T, d_v)
        q, k, v = self.query(x), self.key(x), self.value(x)
        alpha = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1)  # (B, T, T), no mask
        return alpha @ v


class CourseModel(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, hidden=128, heads=2, d_qk=96, d_v=96, ffn=2048,
                 max_length=COURSE_LENGTH):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(src_vocab, hidden), nn.Embedding(max_length, hidden)
        self.heads = nn.ModuleList(Head(hidden, d_qk, d_v) for _ in range(heads))
        self.output = nn.Linear(heads * d_v, hidden)
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn), nn.ReLU(), nn.Linear(ffn, hidden))
        self.head = nn.Linear(hidden, tgt_vocab)

    def forward(self, ids):  # (B, 43) -> (B, 43, V)
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        x = self.norm1(x + self.output(torch.cat([h(x) for h in self.heads], dim=-1)))
        x = self.norm2(x + self.ffn(x))
        return self.head(x)

    def loss(self, ids, labels):
        return token_loss(self(ids), labels)


def token_loss(logits, labels):
    """Mean cross-entropy over every position whose label is not -100: (B, T, V), (B, T) -> ()."""
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)


def pad_to_course_length(features: list[dict], pad_id: int = 0) -> dict:
    """Every batch padded (or cut) to 43 positions, as the course does."""
    ids = torch.full((len(features), COURSE_LENGTH), pad_id, dtype=torch.long)
    labels = torch.full((len(features), COURSE_LENGTH), -100, dtype=torch.long)
    for row, f in enumerate(features):
        src, tgt = f["input_ids"][:COURSE_LENGTH], f["labels"][:COURSE_LENGTH]
        ids[row, : len(src)] = torch.tensor(src)
        labels[row, : len(tgt)] = torch.tensor(tgt)
    return {"input_ids": ids, "labels": labels}
