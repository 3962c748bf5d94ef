"""The losses that teach the tiny reading model where a word is and which word it is.

Used by :mod:`docretriever.testing.train_reader` next to colpali-engine's ``ColbertLoss``.
Word boxes are in pixels of the rendered page image; cells are its cells in row-major order, as
the model emits its image rows (the reading model is a ColQwen2: 28-px cells, see
:data:`~docretriever.embedding.geometry.COLQWEN2_GEOMETRY`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from docretriever.embedding.geometry import COLQWEN2_GEOMETRY
from docretriever.testing.reading_pages import VOCABULARY

QUERY_PREFIX = "Query: "
PageBoxes = list[tuple[str, float, float, float, float]]  # word and its box in image pixels


def forward(model: Any, batch: Any, image_token_id: int) -> torch.Tensor:
    """The model's rows for ``batch`` (a processor output), adding ``mm_token_type_ids`` for
    pages when the processor left it out (some transformers versions do)."""
    if "pixel_values" in batch and "mm_token_type_ids" not in batch:
        batch["mm_token_type_ids"] = (batch["input_ids"] == image_token_id).int()
    return model(**batch)


def word_cells(
    boxes: PageBoxes, words: Sequence[str], grid: tuple[int, int], cell_px: int = COLQWEN2_GEOMETRY.cell_px
) -> torch.Tensor:
    """Bool (n_y * n_x,) in row-major order: the ``cell_px``-px cells that hold one of ``words``.

    A cell counts when the word's box covers at least 30 % of the smaller of the two.
    """
    n_x, n_y = grid
    mask = torch.zeros(n_y, n_x, dtype=torch.bool)
    cell = float(cell_px)
    for text, x0, y0, x1, y1 in boxes:
        if text not in words:
            continue
        for y in range(max(0, int(y0 // cell)), min(n_y, int(y1 // cell) + 1)):
            for x in range(max(0, int(x0 // cell)), min(n_x, int(x1 // cell) + 1)):
                w = min(x1, (x + 1) * cell) - max(x0, x * cell)
                h = min(y1, (y + 1) * cell) - max(y0, y * cell)
                smaller = min(cell * cell, (x1 - x0) * (y1 - y0))
                if w > 0 and h > 0 and w * h >= 0.3 * smaller:
                    mask[y, x] = True
    return mask.reshape(-1)


def localization_loss(
    query: torch.Tensor, query_mask: torch.Tensor, cells: torch.Tensor, targets: torch.Tensor, tau: float
) -> torch.Tensor:
    """Each query token's softmax over its own page's cells should fall on the queried words.

    ``query`` (B, T, D) with ``query_mask`` (B, T) bool; ``cells`` (B, C, D); ``targets`` (B, C)
    bool. Why it is there: from random weights every page has blank-margin cells that look
    alike, and query tokens that drift towards them make every page score the same (the max
    over cells lands on a blank one everywhere): in-batch InfoNCE alone then sits at ln(batch)
    with no gradient. Telling the tokens where the word is on the page keeps them on text.
    """
    scores = torch.einsum("btd,bcd->btc", query, cells) / tau
    on_word = scores.masked_fill(~targets[:, None, :], float("-inf")).logsumexp(-1)
    per_token = scores.logsumexp(-1) - on_word
    usable = query_mask & targets.any(-1, keepdim=True)
    return per_token[usable].mean()


def word_labels(boxes: PageBoxes, grid: tuple[int, int], vocabulary: dict[str, int]) -> torch.Tensor:
    """Long (n_y * n_x,): the vocabulary index of the word each cell shows, -1 for cells with
    no word or with more than one."""
    labels = torch.full((grid[0] * grid[1],), -1, dtype=torch.long)
    for word in dict.fromkeys(box[0] for box in boxes if box[0] in vocabulary):
        cells = word_cells(boxes, [word], grid)
        labels[cells & (labels == -1)] = vocabulary[word]
        labels[cells & (labels >= 0) & (labels != vocabulary[word])] = -2
    labels[labels == -2] = -1
    return labels


class WordSpotting:
    """Every cell that shows a word must match that word's query tokens better than any other
    word's, by MaxSim over the word's own tokens: dense supervision (every text cell of every
    page is an example) in the very similarity search uses. Without it, 1,000 steps of in-batch
    InfoNCE on 2 CPU cores learnt where text is but not which word it was."""

    def __init__(self, processor: Any, tau: float = 0.05) -> None:
        self.tau = tau
        self.batch = processor.process_queries(list(VOCABULARY))
        prefix = len(processor.tokenizer(QUERY_PREFIX.strip())["input_ids"])
        valid = self.batch["attention_mask"].bool()
        self.word_tokens = torch.zeros_like(valid)
        for row in range(len(VOCABULARY)):
            positions = valid[row].nonzero().flatten()
            # prefix tokens first, then the word, then 10 augmentation tokens
            self.word_tokens[row, positions[prefix:-10]] = True
        self.index = {word: i for i, word in enumerate(VOCABULARY)}

    def loss(self, model: Any, cells: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``cells`` (B, C, D) and ``labels`` (B, C) long from :func:`word_labels`."""
        words = forward(model, dict(self.batch), 0)  # (V, T, D)
        shown = labels >= 0
        scores = torch.einsum("nd,vtd->nvt", cells[shown], words)
        scores = scores.masked_fill(~self.word_tokens[None], float("-inf")).amax(-1) / self.tau
        return torch.nn.functional.cross_entropy(scores, labels[shown])
