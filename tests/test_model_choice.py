"""The core of the model choice, without Qt or torch: the recommendation for made-up computers,
the speed measurement with a stand-in embedder, and the cache of measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docretriever.embedding.base import ModelIdentity, PageEmbedding
from docretriever.embedding.catalogue import CATALOGUE, catalogue_entry
from docretriever.embedding.families import COLQWEN3_5
from docretriever.embedding.hardware import Hardware, recommend, why_recommended
from docretriever.embedding.model_choice import model_choice
from docretriever.embedding.speed import (
    SpeedMeasurement,
    cached_speed,
    load_speeds,
    measure_page_speed,
    record_speed,
)
from docretriever.errors import Cancelled, InvalidInputError
from docretriever.progress import CancelToken, Progress

GB = 1_000_000_000


def gpu(memory_gb: float) -> Hardware:
    return Hardware(
        cpu_name="Test CPU",
        cpu_cores=16,
        gpu_name=f"GPU {memory_gb} GB",
        gpu_memory_bytes=int(memory_gb * GB),
    )


@pytest.mark.parametrize(
    ("hardware", "expected"),
    [
        (Hardware(cpu_name="Test CPU", cpu_cores=4), "vultr/VultronRetrieverFlash-Qwen3.5-0.8B"),
        (gpu(80), "vultr/VultronRetrieverPrime-Qwen3.5-8B"),  # 16.8 GB of bf16 weights fit in 48 GB
        (gpu(24), "vultr/VultronRetrieverCore-Qwen3.5-4.5B"),  # 14.4 GB allowed: Prime's 16.8 does not fit
        (gpu(16), "vultr/VultronRetrieverCore-Qwen3.5-4.5B"),  # 9.6 GB allowed, Core takes 9.08
        (gpu(8), "vultr/VultronRetrieverFlash-Qwen3.5-0.8B"),  # 4.8 GB: Flash beats ColQwen2 on v3
        (gpu(2), "vultr/VultronRetrieverFlash-Qwen3.5-0.8B"),  # nothing fits: the smallest
    ],
)
def test_recommend_by_hardware(hardware: Hardware, expected: str) -> None:
    entry = recommend(hardware)
    assert entry.hub_id == expected
    reason = why_recommended(hardware, entry)
    assert ("no CUDA GPU" in reason) == (not hardware.has_gpu)
    if hardware.has_gpu:
        assert str(hardware.gpu_name) in reason


def test_recommend_picks_by_score_not_catalogue_order() -> None:
    reordered = tuple(reversed(CATALOGUE))
    assert recommend(gpu(80), reordered).hub_id == "vultr/VultronRetrieverPrime-Qwen3.5-8B"
    # Without a GPU: the best score under 1 B parameters, not the smallest model.
    on_cpu = recommend(Hardware(cpu_name="x", cpu_cores=1), reordered)
    assert on_cpu.hub_id == "vultr/VultronRetrieverFlash-Qwen3.5-0.8B"
    assert on_cpu.parameters > min(entry.parameters for entry in CATALOGUE)


class StandInEmbedder:
    """Counts the pages it embeds and the sizes it was given; no model."""

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.device = "cpu"
        self.visual_tokens = 256
        self.identity = ModelIdentity("stand-in", "local", "0" * 64, 320, family="ColQwen3.5")
        self.geometry = COLQWEN3_5.geometry

    def render_size(self, width_pt: float, height_pt: float) -> tuple[int, int]:
        return self.geometry.render_size(width_pt, height_pt, self.visual_tokens)

    def embed_pages(self, images, cancel=None):
        self.sizes.extend(image.size for image in images)
        return [PageEmbedding(np.zeros((1, 320), np.float32), (1, 1)) for _ in images]


def test_measure_times_letter_pages_after_a_warm_up() -> None:
    embedder = StandInEmbedder()
    reports: list[Progress] = []
    result = measure_page_speed(embedder, "stand-in", "Test CPU x4", pages=2, progress=reports.append)
    assert len(embedder.sizes) == 3  # the warm-up and two timed pages
    assert set(embedder.sizes) == {embedder.render_size(612, 792)}
    assert result.pages == 2 and result.seconds_per_page >= 0
    assert (result.device, result.visual_tokens, result.machine) == ("cpu", 256, "Test CPU x4")
    assert reports[-1].done == reports[-1].total == 3


def test_measure_stops_when_cancelled_and_refuses_no_pages() -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        measure_page_speed(StandInEmbedder(), "stand-in", "m", cancel=cancel, warm_up=False)
    with pytest.raises(InvalidInputError, match="at least one page"):
        measure_page_speed(StandInEmbedder(), "stand-in", "m", pages=0)


def measurement(**changes: object) -> SpeedMeasurement:
    fields: dict[str, object] = {
        "model": "vidore/colqwen2-v1.0",
        "fingerprint": "a" * 64,
        "device": "cpu",
        "visual_tokens": 768,
        "seconds_per_page": 4.0,
        "pages": 1,
        "machine": "Test CPU x4",
        "measured_at": "2026-12-01T10:00:00+00:00",
    }
    fields.update(changes)
    return SpeedMeasurement(**fields)  # type: ignore[arg-type]


def test_the_cache_keeps_the_newest_per_model_device_budget_and_computer(tmp_path: Path) -> None:
    cache = tmp_path / "speed.json"
    record_speed(measurement(), cache)
    record_speed(measurement(seconds_per_page=2.0, measured_at="2026-12-02T10:00:00+00:00"), cache)
    record_speed(measurement(visual_tokens=256, seconds_per_page=1.0), cache)
    record_speed(measurement(machine="Other CPU x2", seconds_per_page=9.0), cache)
    assert len(load_speeds(cache)) == 3  # the second replaced the first
    assert [p.name for p in tmp_path.iterdir()] == ["speed.json"]  # no temporary file left
    found = cached_speed("VIDORE/colqwen2-v1.0@main", "Test CPU x4", visual_tokens=768, cache_file=cache)
    assert found is not None and found.seconds_per_page == 2.0
    assert cached_speed("vidore/colqwen2-v1.0", "Test CPU x4", device="cuda", cache_file=cache) is None
    assert cached_speed("vidore/colqwen2.5-v0.2", "Test CPU x4", cache_file=cache) is None


def test_a_damaged_cache_reads_as_empty_and_is_rewritten(tmp_path: Path) -> None:
    cache = tmp_path / "speed.json"
    cache.write_text("{not json")
    assert load_speeds(cache) == []
    record_speed(measurement(), cache)
    assert load_speeds(cache) == [measurement()]


def test_the_rows_carry_availability_speed_and_one_recommendation(tmp_path: Path) -> None:
    cache = tmp_path / "speed.json"
    hardware = Hardware(cpu_name="Test CPU", cpu_cores=4)
    record_speed(measurement(machine=hardware.machine_key, seconds_per_page=1.5, visual_tokens=256), cache)
    choice = model_choice(
        hardware, available=lambda hub_id: hub_id == "vidore/colqwen2-v1.0", cache_file=cache
    )
    assert [row.entry for row in choice.rows] == list(CATALOGUE)
    assert [row.entry.hub_id for row in choice.rows if row.recommended] == [
        "vultr/VultronRetrieverFlash-Qwen3.5-0.8B"
    ]
    colqwen2 = choice.rows[0]
    assert colqwen2.here and colqwen2.speed_text == "1.50 s/page (cpu, 256 cells)"
    assert not choice.rows[1].here and choice.rows[1].speed_text == "not measured"
    assert catalogue_entry("vidore/colqwen2-v1.0") is colqwen2.entry
