"""Train the tiny reading ColQwen2 that retrieval tests run on (never run by CI: it loads the result).

The model is colpali-engine's own ``ColQwen2`` class with a small Qwen2-VL configuration, trained
with colpali-engine's ``ColbertLoss`` (in-batch InfoNCE over MaxSim scores, on image cells only)
plus :class:`WordSpotting` (every cell that shows a word against the vocabulary's query tokens,
by the same token-cell similarity), on pages from :mod:`docretriever.testing.reading_pages`
rendered through the product's render path. Queries are one to three words of their page,
given to ``process_queries`` with the "Query: " prefix the real checkpoints were trained with.
Pages are rendered once into a cache; training then only reads arrays.

What made training work at all, each found by a run that sat at loss ln(batch): image cells
only in the loss (a row alike on every page wins every max), unit-scale token embeddings (query
tokens collapsed onto the attention biases), a smaller step for the patch embedding (paper-white
input), and the dense word-spotting term (in-batch InfoNCE alone learnt nothing in 1,000 steps).

Command line (CPU, 2 cores: about 5 minutes of rendering, then about 1 s a step)::

    python -m docretriever.testing.train_reader /tmp/reader
    python -m docretriever.testing.reading_eval /tmp/reader   # held-out figures -> manifest.json

writes the checkpoint (colpali-engine layout, loads with ``ColQwen2.from_pretrained``) and
``training.json`` (data seed and generator version, settings, loss history, time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from colpali_engine.loss import ColbertLoss
from colpali_engine.models import ColQwen2
from PIL import Image

from docretriever.testing.reading_pages import (
    GENERATOR_VERSION,
    VOCABULARY,
    held_out_set,
    make_page,
    render_reading_page,
)
from docretriever.testing.tiny_model import (
    SPECIAL_TOKENS,
    build_processor,
    build_tokenizer,
    colqwen2_config,
    token_id,
)

QUERY_PREFIX = "Query: "
TRAIN_SEED = 1  # pages of seed 1 are trained on; held-out sets use other seeds (see HELD_OUT_SEED)
HELD_OUT_SEED = 1000
TRAIN_BUDGETS = (96, 128, 192)  # visual tokens per training page
PATCH_EMBED_LR_SCALE = 1.0
VISION_LR_SCALE = 1.0


def reader_config(tokenizer: Any) -> Any:
    """The reading model's Qwen2-VL configuration: 128-wide text, 64-wide vision, 28-px cells."""
    ids = {token: token_id(tokenizer, token) for token in SPECIAL_TOKENS}
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32768,
        # head_dim 32 -> 16 rotary frequencies, split over (t, h, w) as in Qwen2-VL.
        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [4, 6, 6]},
        "initializer_range": 0.02,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision_config = {
        "depth": 2,
        "embed_dim": 64,
        "num_heads": 4,
        "mlp_ratio": 2,
        "hidden_size": 128,
        "in_channels": 3,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "initializer_range": 0.02,
    }
    return colqwen2_config(text_config, vision_config, ids, tie_word_embeddings=False)


def build_reader(seed: int) -> tuple[Any, Any]:
    """A freshly initialised reading model and its processor (query prefix set)."""
    tokenizer = build_tokenizer(words=VOCABULARY, vocab_limit=1536)
    processor = build_processor(tokenizer)
    processor.query_prefix = QUERY_PREFIX
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ColQwen2(reader_config(tokenizer)).to(torch.float32)
        # See tiny_model.build_model: a zero bias turns zero pad rows into NaN rows.
        torch.nn.init.normal_(model.custom_text_proj.bias, std=0.02)
        # Token embeddings of unit scale, not Qwen2's 0.02. With 0.02 the residual stream of a
        # query is dominated within ~100 steps by what is added to every token alike (the
        # attention's value biases, trained by Adam at the full learning rate): every query
        # token came out the same vector (mean cosine 0.999), so no query told pages apart and
        # the in-batch loss stayed at ln(batch).
        embeddings = model.language_model.embed_tokens
        torch.nn.init.normal_(embeddings.weight, std=1.0)
        if embeddings.padding_idx is not None:
            embeddings.weight.data[embeddings.padding_idx].zero_()
    return model, processor


PageBoxes = list[tuple[str, float, float, float, float]]  # word and its box in image pixels


def render_cache(folder: Path, count: int) -> tuple[list[np.ndarray], list[PageBoxes]]:
    """Training pages ``0 .. count-1`` of :data:`TRAIN_SEED` as uint8 arrays, rendered once, with
    each word's box in pixels of its image."""
    folder.mkdir(parents=True, exist_ok=True)
    cache = folder / f"train-v{GENERATOR_VERSION}-s{TRAIN_SEED}-{count}-boxes.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=True)
        return list(data["images"]), [list(map(tuple, b)) for b in data["boxes"]]
    images, boxes = [], []
    for i in range(count):
        page = make_page(TRAIN_SEED, i)
        budget = TRAIN_BUDGETS[i % len(TRAIN_BUDGETS)]
        image = render_reading_page(page, budget)
        sx, sy = image.width / page.width_pt, image.height / page.height_pt
        images.append(np.asarray(image))
        boxes.append([(b.text, b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy) for b in page.words])
        if i % 500 == 0:
            print(f"rendered {i}/{count}", flush=True)
    np.savez(cache, images=np.array(images, dtype=object), boxes=np.array(boxes, dtype=object))
    return images, boxes


def word_cells(boxes: PageBoxes, words: Sequence[str], grid: tuple[int, int]) -> torch.Tensor:
    """Bool (n_y * n_x,) in row-major order: the 28-px cells that hold one of ``words``.

    A cell counts when the word's box covers at least 30 % of the smaller of the two.
    """
    n_x, n_y = grid
    mask = torch.zeros(n_y, n_x, dtype=torch.bool)
    cell = 28.0
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
        words = _forward(model, dict(self.batch), 0)  # (V, T, D)
        shown = labels >= 0
        scores = torch.einsum("nd,vtd->nvt", cells[shown], words)
        scores = scores.masked_fill(~self.word_tokens[None], float("-inf")).amax(-1) / self.tau
        return torch.nn.functional.cross_entropy(scores, labels[shown])


def _parameter_groups(model: Any, lr: float) -> list[dict[str, Any]]:
    """The patch embedding gets a far smaller step than the rest.

    Its 1,176 inputs per patch are nearly constant on a page (paper white), and Adam moves
    every weight by about the learning rate whatever its gradient: one step at lr 1e-3 adds a
    page-independent ~4 to every patch's features, against a spread of ~1.3 between patches,
    and the vision tower's outputs collapse to one direction (mean cosine 0.968 -> 0.995 after a
    single step), after which every page scores the same and the loss stays at ln(batch).
    """
    patch = [p for n, p in model.named_parameters() if n.startswith("visual.patch_embed")]
    vision = [
        p
        for n, p in model.named_parameters()
        if n.startswith("visual.") and not n.startswith("visual.patch_embed")
    ]
    text = [p for n, p in model.named_parameters() if not n.startswith("visual.")]
    return [
        {"params": patch, "lr": lr * PATCH_EMBED_LR_SCALE},
        {"params": vision, "lr": lr * VISION_LR_SCALE},
        {"params": text, "lr": lr},
    ]


def _same_size_buckets(images: Sequence[np.ndarray], batch: int) -> list[list[int]]:
    """Indices of the cached pages grouped by image size, groups of at least ``batch``."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.shape, []).append(i)
    buckets = [group for group in groups.values() if len(group) >= batch]
    if not buckets:
        raise ValueError("no page size has enough pages for one batch: render more pages")
    return buckets


def _query_for(rng: random.Random, boxes: PageBoxes) -> list[str]:
    unique = list(dict.fromkeys(box[0] for box in boxes))
    return rng.sample(unique, min(len(unique), rng.choice((1, 1, 1, 2, 3))))


def _forward(model: Any, batch: Any, image_token_id: int) -> torch.Tensor:
    if "pixel_values" in batch and "mm_token_type_ids" not in batch:
        batch["mm_token_type_ids"] = (batch["input_ids"] == image_token_id).int()
    return model(**batch)


def held_out_recall(model: Any, processor: Any, count: int = 200, visual_tokens: int = 128) -> float:
    """recall@1 of key-word queries over ``count`` held-out pages (chance: 1/count)."""
    pairs = held_out_set(HELD_OUT_SEED, count)
    model.eval()
    with torch.inference_mode():
        pages = []
        for start in range(0, count, 16):
            images = [render_reading_page(p, visual_tokens) for p, _ in pairs[start : start + 16]]
            batch = processor.process_images(images)
            pages.extend(list(_forward(model, batch, processor.image_token_id)))
        queries = list(_forward(model, processor.process_queries([k for _, k in pairs]), 0))
        scores = processor.score_multi_vector(queries, pages)
    model.train()
    return float((scores.argmax(dim=1) == torch.arange(count)).float().mean())


def train(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    model, processor = build_reader(args.seed)
    images, boxes = render_cache(args.cache, args.pages)
    loss_fn = ColbertLoss(temperature=args.temperature, normalize_scores=not args.raw_scores)
    optimizer = torch.optim.AdamW(_parameter_groups(model, args.lr), weight_decay=0.01)
    warmup = args.warmup

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, args.steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    spotting = WordSpotting(processor)
    buckets = _same_size_buckets(images, args.batch)
    weights = [len(bucket) for bucket in buckets]
    model.train()
    started = time.monotonic()
    history = []
    for step in range(args.steps):
        chosen = rng.sample(rng.choices(buckets, weights)[0], args.batch)
        batch_images = [Image.fromarray(images[i]) for i in chosen]
        query_words = [_query_for(rng, boxes[i]) for i in chosen]
        page_batch = processor.process_images(batch_images)
        doc = _forward(model, page_batch, processor.image_token_id)
        # Only the image cells take part in the loss. A row that is the same on every page (the
        # page prompt's rows, or the zero rows of padding) can win every page's max for a query
        # token; once it does for all of them, every page scores the same and the gradient
        # vanishes: the collapse to loss ln(batch) seen with plain in-batch batches. Pages of
        # one size share their cell positions, so no padding is needed.
        cells = doc[:, page_batch["input_ids"][0] == processor.image_token_id]
        query_batch = processor.process_queries([" ".join(words) for words in query_words])
        query = _forward(model, query_batch, 0)
        _, rows, cols = (int(v) for v in page_batch["image_grid_thw"][0])
        grid = (cols // 2, rows // 2)
        targets = torch.stack(
            [word_cells(boxes[i], w, grid) for i, w in zip(chosen, query_words, strict=True)]
        )
        retrieval = loss_fn(query, cells)
        located = localization_loss(query, query_batch["attention_mask"].bool(), cells, targets, 0.05)
        labels = torch.stack([word_labels(boxes[i], grid, spotting.index) for i in chosen])
        spotted = spotting.loss(model, cells, labels)
        retrieval_weight = args.retrieval_weight if step >= args.spotting_only_steps else 0.0
        loss = (
            retrieval_weight * retrieval + args.localization_weight * located + args.spotting_weight * spotted
        )
        optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        scheduler.step()
        if step % args.log_every == 0 or step == args.steps - 1:
            tokens = torch.nn.functional.normalize(
                query[query_batch["attention_mask"].bool()].detach(), dim=-1
            )
            line = {
                "query_token_mean_cos": round(float((tokens @ tokens.T).mean()), 3),
                "step": step,
                "loss": round(float(loss.detach()), 4),
                "retrieval_loss": round(float(retrieval.detach()), 4),
                "localization_loss": round(float(located.detach()), 4),
                "spotting_loss": round(float(spotted.detach()), 4),
                "grad_norm": round(float(grad_norm), 5),
                "lr": scheduler.get_last_lr()[0],
                "elapsed_s": round(time.monotonic() - started, 1),
            }
            if step % args.eval_every == 0 or step == args.steps - 1:
                line["held_out_recall_at_1"] = held_out_recall(model, processor)
            history.append(line)
            print(json.dumps(line), flush=True)
        if args.save_every and step and step % args.save_every == 0:
            save(model, processor, args.destination)
    model.eval()
    return model, processor, {"history": history, "train_seconds": round(time.monotonic() - started, 1)}


def save(model: Any, processor: Any, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(destination, safe_serialization=True)
    processor.save_pretrained(destination)


def weights_sha256(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docretriever.testing.train_reader")
    parser.add_argument("destination", type=Path)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--temperature", type=float, default=0.02)
    # 0 by default: with weight 1 it taught every query token one shared "text is here" direction
    # (mean cosine between a batch's query tokens 0.23 -> 0.97 in 290 steps) and no word.
    parser.add_argument("--localization-weight", type=float, default=0.0)
    parser.add_argument("--spotting-weight", type=float, default=1.0)
    parser.add_argument("--retrieval-weight", type=float, default=1.0)
    parser.add_argument(
        "--spotting-only-steps", type=int, default=0, help="steps before the retrieval loss joins"
    )
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm clip")
    parser.add_argument("--raw-scores", action="store_true", help="ColbertLoss without length normalisation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "docretriever-reader")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, processor, result = train(args)
    save(model, processor, args.destination)
    manifest = {
        "what": "tiny ColQwen2 trained to read generated pages; for tests only, never for real search",
        "generator_version": GENERATOR_VERSION,
        "train_seed": TRAIN_SEED,
        "held_out_seed": HELD_OUT_SEED,
        "train_pages": args.pages,
        "train_budgets": list(TRAIN_BUDGETS),
        "steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
        "patch_embed_lr_scale": PATCH_EMBED_LR_SCALE,
        "warmup_steps": args.warmup,
        "temperature": args.temperature,
        "loss": "colpali_engine.loss.ColbertLoss (in-batch, image cells only) + "
        f"{args.localization_weight} x localization_loss (query tokens onto the queried words' cells) + "
        f"{args.spotting_weight} x WordSpotting (each text cell's word against the vocabulary, by MaxSim)",
        "raw_scores": args.raw_scores,
        "query_prefix": QUERY_PREFIX,
        "torch_threads": args.threads,
        "device": "cpu",
        **result,
    }
    (args.destination / "training.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
