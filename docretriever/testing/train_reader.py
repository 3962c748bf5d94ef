"""Train the tiny reading ColQwen2 that retrieval tests run on (never run by CI: it loads the result).

The model is colpali-engine's own ``ColQwen2`` class with a small Qwen2-VL configuration, trained
with colpali-engine's ``ColbertLoss`` (in-batch InfoNCE over MaxSim scores, on image cells only)
plus :class:`WordSpotting` (every cell that shows a word against the vocabulary's query tokens,
by the same token-cell similarity), on pages from :mod:`docretriever.testing.reading_pages`
rendered through the product's render path. Queries are one to three words of their page,
given to ``process_queries`` with the "Query: " prefix the real checkpoints were trained with.
Pages are rendered once into a cache; training then only reads arrays.

What made training work at all, each found by a run that sat at loss ln(batch) or
ln(vocabulary): image cells only in the loss (a row alike on every page wins every max),
unit-scale token embeddings (query tokens collapsed onto the attention biases), patch-filter
updates that a blank patch cannot see (:func:`blind_patch_filters_to_paper`), a pool of
training pages that starts small and doubles (:func:`growing_pool`), and the dense
word-spotting term. With batches drawn from all pages from the first step, every cell of every
page came out nearly the same vector within 25 steps (mean cosine 0.99), with or without the
patch-filter correction, whatever the learning rate (3e-5 to 5e-4), optimizer (AdamW, SGD) or
temperature (0.1 to 1); the same model learnt one fixed batch by heart in 100 steps, so the
fault was the training signal, not the model or the data path. (The growing pool was only
tried together with the patch-filter correction.)

Command line (CPU, 2 cores: about 8 minutes of rendering 6,000 pages, then about 1 s a step)::

    python -m docretriever.testing.train_reader /tmp/reader
    python -m docretriever.testing.reading_eval /tmp/reader   # held-out figures -> manifest.json

writes the checkpoint (colpali-engine layout, loads with ``ColQwen2.from_pretrained``) and
``training.json`` (data seed and generator version, settings, loss history, time).
"""

from __future__ import annotations

import argparse
import functools
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

from docretriever.testing.reading_losses import (
    QUERY_PREFIX,
    PageBoxes,
    WordSpotting,
    forward,
    localization_loss,
    word_cells,
    word_labels,
)
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

TRAIN_SEED = 1  # pages of seed 1 are trained on; held-out sets use other seeds (see HELD_OUT_SEED)
HELD_OUT_SEED = 1000
TRAIN_BUDGETS = (96, 128, 192)  # visual tokens per training page


def reader_config(tokenizer: Any) -> Any:
    """The reading model's Qwen2-VL configuration: 128-wide text, 64-wide vision, ColQwen2's cells
    (14-px patches merged 2 x 2)."""
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


def blind_patch_filters_to_paper(weight: torch.Tensor, before: torch.Tensor) -> None:
    """Take out of the patch embedding's last update the part a uniform patch would see.

    ``weight`` (out, channels, t, h, w) is the Conv3d patch filter after an optimizer step,
    ``before`` a copy from before it. A page is mostly paper: every patch's input is one large
    constant (white, ~1.9 after the processor's normalisation) plus a little ink. Adam moves
    every weight by about the learning rate whatever its gradient, and the gradient's shared
    part points the same way for every patch, so each step added a page-independent vector to
    every patch's features (one step at lr 5e-4: ~1 per feature) and within 25 steps all cells
    of all pages looked alike (mean cosine 0.92 -> 0.99), the word-spotting loss sat at
    ln(vocabulary) and nothing was learnt. With the update's mean over each filter's pixels
    removed, a change of filter never changes what a blank patch gives, only what ink gives.
    """
    with torch.no_grad():
        update = weight - before
        weight.copy_(before + update - update.mean(dim=(2, 3, 4), keepdim=True))


def _same_size_buckets(images: Sequence[np.ndarray], batch: int) -> list[list[int]]:
    """Indices of the cached pages grouped by image size, groups of at least ``batch``."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.shape, []).append(i)
    buckets = [group for group in groups.values() if len(group) >= batch]
    if not buckets:
        raise ValueError("no page size has enough pages for one batch: render more pages")
    return buckets


def growing_pool(buckets: Sequence[list[int]], step: int, args: argparse.Namespace) -> list[list[int]]:
    """The pages a step may draw from: about ``grow_from`` pages, doubled every ``grow_every``
    steps until all are in, taken from each size bucket in proportion (and at least a batch from
    each, so the first pool holds at least a batch per page size).

    Why: from random weights, batches drawn from thousands of varied pages give no word a
    consistent pull, and the only consistent part of the gradient is the shared one (all cells
    alike, every word equally likely): the cells collapsed (mean cosine 0.99) and stayed there.
    A small pool is learnt by heart first, which spreads the cells apart (cosine 0.24); each
    doubling then makes the model keep what carries over to new pages.
    """
    total = sum(len(bucket) for bucket in buckets)
    if not args.grow_from or args.grow_from * 2 ** (step // args.grow_every) >= total:
        return list(buckets)
    limit = args.grow_from * 2 ** (step // args.grow_every)
    return [bucket[: max(args.batch, limit * len(bucket) // total)] for bucket in buckets]


def _query_for(rng: random.Random, boxes: PageBoxes) -> list[str]:
    unique = list(dict.fromkeys(box[0] for box in boxes))
    return rng.sample(unique, min(len(unique), rng.choice((1, 1, 1, 2, 3))))


@functools.cache
def _held_out_images(count: int, visual_tokens: int) -> tuple[list[tuple[Any, str]], list[Image.Image]]:
    pairs = held_out_set(HELD_OUT_SEED, count)
    return pairs, [render_reading_page(page, visual_tokens) for page, _ in pairs]


def held_out_recall(model: Any, processor: Any, count: int = 200, visual_tokens: int = 128) -> float:
    """recall@1 of key-word queries over ``count`` held-out pages (chance: 1/count)."""
    pairs, rendered = _held_out_images(count, visual_tokens)
    model.eval()
    with torch.inference_mode():
        pages = []
        for start in range(0, count, 16):
            images = rendered[start : start + 16]
            batch = processor.process_images(images)
            pages.extend(list(forward(model, batch, processor.image_token_id)))
        queries = list(forward(model, processor.process_queries([k for _, k in pairs]), 0))
        scores = processor.score_multi_vector(queries, pages)
    model.train()
    return float((scores.argmax(dim=1) == torch.arange(count)).float().mean())


def train(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    model, processor = build_reader(args.seed)
    images, boxes = render_cache(args.cache, args.pages)
    loss_fn = ColbertLoss(temperature=args.temperature, normalize_scores=not args.raw_scores)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    patch_filter = model.visual.patch_embed.proj.weight
    warmup = args.warmup

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, args.steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    spotting = WordSpotting(processor, tau=args.spotting_temperature)
    buckets = _same_size_buckets(images, args.batch)
    model.train()
    started = time.monotonic()
    history = []
    for step in range(args.steps):
        pool = growing_pool(buckets, step, args)
        chosen = rng.sample(rng.choices(pool, [len(bucket) for bucket in pool])[0], args.batch)
        batch_images = [Image.fromarray(images[i]) for i in chosen]
        query_words = [_query_for(rng, boxes[i]) for i in chosen]
        page_batch = processor.process_images(batch_images)
        doc = forward(model, page_batch, processor.image_token_id)
        # Only the image cells take part in the loss. A row that is the same on every page (the
        # page prompt's rows, or the zero rows of padding) can win every page's max for a query
        # token; once it does for all of them, every page scores the same and the gradient
        # vanishes: the collapse to loss ln(batch) seen with plain in-batch batches. Pages of
        # one size share their cell positions, so no padding is needed.
        cells = doc[:, page_batch["input_ids"][0] == processor.image_token_id]
        query_batch = processor.process_queries([" ".join(words) for words in query_words])
        query = forward(model, query_batch, 0)
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
        before = patch_filter.detach().clone()
        optimizer.step()
        blind_patch_filters_to_paper(patch_filter, before)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docretriever.testing.train_reader")
    parser.add_argument("destination", type=Path)
    parser.add_argument("--steps", type=int, default=3500)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--pages", type=int, default=6000)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--temperature", type=float, default=0.02, help="ColbertLoss temperature")
    parser.add_argument("--spotting-temperature", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--grow-from", type=int, default=128, help="pages in the first pool (0: all)")
    parser.add_argument("--grow-every", type=int, default=200, help="steps between doublings of the pool")
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
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "docretriever-reader")
    args = parser.parse_args(argv)
    if args.grow_every < 1:
        parser.error("--grow-every must be at least 1")
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
        "weight_decay": args.weight_decay,
        "spotting_temperature": args.spotting_temperature,
        "curriculum": f"pool of {args.grow_from} pages doubled every {args.grow_every} steps",
        "patch_filter_updates": "mean over each filter's pixels removed (blind to uniform paper)",
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
