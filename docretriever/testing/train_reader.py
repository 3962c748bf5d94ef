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


def held_out_recall(model: Any, processor: Any, count: int = 200, visual_tokens: int = 128) -> float:
    """recall@1 of key-word queries over ``count`` held-out pages (chance: 1/count)."""
    pairs = held_out_set(HELD_OUT_SEED, count)
    model.eval()
    with torch.inference_mode():
        pages = []
        for start in range(0, count, 16):
            images = [render_reading_page(p, visual_tokens) for p, _ in pairs[start : start + 16]]
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
