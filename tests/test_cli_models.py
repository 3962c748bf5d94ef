"""``docretriever models``: the catalogue for a made-up computer, the recommendation, cached
speeds, and ``--measure`` end to end with the tiny model (in process, like test_cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from docretriever.cli import main
from docretriever.cli import models as models_cli
from docretriever.embedding.catalogue import CATALOGUE
from docretriever.embedding.hardware import Hardware
from docretriever.embedding.speed import SpeedMeasurement, cached_speed, record_speed

CPU_ONLY = Hardware(cpu_name="Test CPU 9000", cpu_cores=8, ram_bytes=32_000_000_000)
BIG_GPU = Hardware(
    cpu_name="Test CPU 9000",
    cpu_cores=32,
    ram_bytes=256_000_000_000,
    gpu_name="Test GPU 80GB",
    gpu_memory_bytes=80_000_000_000,
)
FLASH = "vultr/VultronRetrieverFlash-Qwen3.5-0.8B"
PRIME = "vultr/VultronRetrieverPrime-Qwen3.5-8B"


@pytest.fixture()
def speed_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCRETRIEVER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "speed-measurements.json"


def on(monkeypatch: pytest.MonkeyPatch, hardware: Hardware) -> None:
    monkeypatch.setattr(models_cli, "detect_hardware", lambda: hardware)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def starred(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.startswith("* ") and "/" in line.split()[1]]


def test_the_table_lists_every_model_and_stars_the_one_for_a_cpu(
    capsys, monkeypatch, no_cached_models, speed_cache
) -> None:
    on(monkeypatch, CPU_ONLY)
    code, out, _ = run(capsys, "models")
    assert code == 0
    for entry in CATALOGUE:
        assert entry.hub_id in out and entry.licence in out
    assert starred(out) == [FLASH]
    assert "8 CPU cores" in out and "no CUDA GPU" in out
    flash_line = next(line for line in out.splitlines() if FLASH in line and "ColQwen3.5" in line)
    assert "88.2 / 60.4 / 56.2" in flash_line and "1.7 GB" in flash_line
    assert "3.4 GB / 1.7 GB" in flash_line  # float32 on a CPU, bfloat16 on a GPU
    assert flash_line.split()[-3:] == ["no", "not", "measured"]


def test_a_big_gpu_gets_the_best_model_that_fits(capsys, monkeypatch, no_cached_models, speed_cache) -> None:
    on(monkeypatch, BIG_GPU)
    code, out, _ = run(capsys, "models")
    assert code == 0 and starred(out) == [PRIME]
    assert "Test GPU 80GB" in out


def test_json_shows_a_cached_measurement_of_this_computer_only(
    capsys, monkeypatch, no_cached_models, speed_cache
) -> None:
    on(monkeypatch, CPU_ONLY)
    here = SpeedMeasurement(
        model="vidore/colqwen2-v1.0@abc123",
        fingerprint="f" * 64,
        device="cpu",
        visual_tokens=256,
        seconds_per_page=3.25,
        pages=1,
        machine=CPU_ONLY.machine_key,
        measured_at="2026-12-01T10:00:00+00:00",
    )
    elsewhere = SpeedMeasurement(**{**here.__dict__, "model": FLASH, "machine": BIG_GPU.machine_key})
    record_speed(here)
    record_speed(elsewhere)
    code, out, _ = run(capsys, "models", "--json")
    assert code == 0
    report = json.loads(out)
    rows = {row["id"]: row for row in report["models"]}
    assert set(rows) == {entry.hub_id for entry in CATALOGUE}
    assert rows["vidore/colqwen2-v1.0"]["seconds_per_page"] == 3.25
    assert rows["vidore/colqwen2-v1.0"]["measured_visual_tokens"] == 256
    assert rows[FLASH]["seconds_per_page"] is None  # measured on another computer
    assert report["recommended"] == FLASH and rows[FLASH]["recommended"]
    assert [row["on_this_computer"] for row in rows.values()] == [False] * len(CATALOGUE)
    code, out, _ = run(capsys, "models")
    assert "3.25 s/page (cpu, 256 cells)" in out


def test_measure_skips_the_models_not_downloaded(capsys, monkeypatch, no_cached_models, speed_cache) -> None:
    on(monkeypatch, CPU_ONLY)
    code, out, _ = run(capsys, "models", "--measure", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["measured"] == []
    assert [item["model"] for item in report["skipped"]] == [entry.hub_id for entry in CATALOGUE]
    assert all("not on this computer" in item["reason"] for item in report["skipped"])
    assert not speed_cache.exists()


def test_measure_times_a_model_folder_and_remembers_it(
    capsys, monkeypatch, tiny_model_dir: Path, speed_cache
) -> None:
    on(monkeypatch, CPU_ONLY)
    common = ["--model", str(tiny_model_dir), "--device", "cpu", "--visual-tokens", "64"]
    code, out, err = run(capsys, "models", "--measure", *common)
    assert code == 0, err
    assert f"measured {tiny_model_dir}:" in out and "(cpu, 64 cells)" in out
    remembered = cached_speed(str(tiny_model_dir), CPU_ONLY.machine_key, device="cpu", visual_tokens=64)
    assert remembered is not None and remembered.seconds_per_page > 0 and remembered.pages == 1
    assert cached_speed(str(tiny_model_dir), BIG_GPU.machine_key) is None
    code, out, _ = run(capsys, "models", "--json", *common)
    assert json.loads(out)["other_model"]["seconds_per_page"] == remembered.seconds_per_page


def test_models_help_starts_without_torch() -> None:
    script = (
        "import sys\n"
        "from docretriever.cli import main\n"
        "try:\n    main(['models', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'colpali_engine', 'PySide6') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "HEAVY []" in result.stdout
    assert "--measure" in result.stdout
