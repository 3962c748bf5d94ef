"""The reading model's training recipe: pure functions on synthetic tensors (no training run)."""

from __future__ import annotations

import argparse

import torch

from docretriever.testing.train_reader import blind_patch_filters_to_paper, growing_pool


def _patch_outputs(weight: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    return patches.reshape(len(patches), -1) @ weight.reshape(len(weight), -1).T


def test_a_blank_patch_gives_what_it_gave_before_the_update() -> None:
    torch.manual_seed(0)
    before = torch.randn(8, 3, 2, 14, 14)
    update = torch.randn_like(before) * 0.1 + 0.05  # a shared push, as Adam gives on paper-white
    paper = torch.ones(1, 3, 2, 14, 14) * torch.tensor([1.9, 2.0, 2.1]).view(1, 3, 1, 1, 1)
    ink = paper.clone()
    ink[..., 4:9, 3:11] = -1.7

    blinded = before + update
    blind_patch_filters_to_paper(blinded, before)

    assert torch.allclose(_patch_outputs(blinded, paper), _patch_outputs(before, paper), atol=1e-3)
    assert not torch.allclose(_patch_outputs(blinded, ink), _patch_outputs(before, ink), atol=1e-2)
    # Negative control: the raw update moves what a blank patch gives, by far.
    moved = _patch_outputs(before + update, paper) - _patch_outputs(before, paper)
    assert moved.abs().min() > 10


def test_the_pool_starts_small_doubles_and_ends_with_every_page() -> None:
    buckets = [list(range(0, 600)), list(range(600, 1000))]
    args = argparse.Namespace(grow_from=100, grow_every=50, batch=16)

    def size(step: int) -> int:
        return sum(len(b) for b in growing_pool(buckets, step, args))

    assert size(0) == 100 and size(49) == 100
    assert size(50) == 200 and size(100) == 400
    assert size(200) == 1000  # 1,600 would be more than there are: every page
    assert all(len(b) >= args.batch for b in growing_pool(buckets, 0, args))
    everything = argparse.Namespace(grow_from=0, grow_every=50, batch=16)  # --grow-from 0: no curriculum
    assert growing_pool(buckets, 0, everything) == buckets
