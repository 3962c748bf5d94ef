"""What this computer has for running a model, and which catalogue model suits it.

:func:`detect_hardware` looks at the processor, the memory and, through torch (imported only
inside it, so that the command line's help and the app's start never load it), a CUDA GPU.
:func:`recommend` is a pure function of a :class:`Hardware` value, so that it can be tested with
made-up computers.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

from docretriever.embedding.catalogue import CATALOGUE, CatalogueEntry
from docretriever.progress import format_bytes

# A GPU model must leave room for a batch's activations and the desktop: its bfloat16 weights
# take at most this share of the GPU's memory.
GPU_MEMORY_SHARE = 0.6
# Without a GPU, models under this many parameters: the others take a minute or more a page on a
# laptop's processor (ColQwen2, 2.2 B: 72 s a page at its default budget on 2 cores).
CPU_PARAMETER_LIMIT = 1_000_000_000


@dataclass(frozen=True, kw_only=True)
class Hardware:
    """A computer, as far as choosing a model goes.

    ``cpu_name``: the processor's model name ("" when the system does not say). ``cpu_cores``:
    logical cores. ``ram_bytes``: physical memory in bytes (None when unknown). ``gpu_name`` and
    ``gpu_memory_bytes``: the first CUDA GPU and its total memory in bytes, None without one
    (Apple's Metal GPUs share the main memory and count as no GPU here).
    """

    cpu_name: str
    cpu_cores: int
    ram_bytes: int | None = None
    gpu_name: str | None = None
    gpu_memory_bytes: int | None = None

    @property
    def has_gpu(self) -> bool:
        return self.gpu_name is not None and bool(self.gpu_memory_bytes)

    @property
    def machine_key(self) -> str:
        """What a speed measurement is valid for: the processor, its core count and the GPU."""
        key = f"{self.cpu_name or platform.machine() or 'unknown CPU'} x{self.cpu_cores}"
        return f"{key} + {self.gpu_name}" if self.gpu_name else key

    def describe(self) -> str:
        """The computer in a few words: "8 CPU cores, 32.0 GB of memory, NVIDIA H100 (80.0 GB)"."""
        parts = [f"{self.cpu_cores} CPU cores"]
        if self.ram_bytes:
            parts.append(f"{format_bytes(self.ram_bytes)} of memory")
        if self.has_gpu:
            parts.append(f"{self.gpu_name} ({format_bytes(self.gpu_memory_bytes or 0)})")
        else:
            parts.append("no CUDA GPU")
        return ", ".join(parts)


def detect_hardware() -> Hardware:
    """This computer's :class:`Hardware`. Imports torch to ask for a CUDA GPU (a second or more
    the first time: call it off the UI thread); without torch, or when CUDA cannot be used, the
    computer counts as having no GPU. Never raises."""
    gpu_name: str | None = None
    gpu_memory: int | None = None
    try:
        import torch

        if torch.cuda.is_available():
            properties = torch.cuda.get_device_properties(0)
            gpu_name, gpu_memory = str(properties.name), int(properties.total_memory)
    except Exception:  # no torch, a broken driver: a computer without a usable GPU
        gpu_name, gpu_memory = None, None
    return Hardware(
        cpu_name=_cpu_name(),
        cpu_cores=os.cpu_count() or 1,
        ram_bytes=_ram_bytes(),
        gpu_name=gpu_name,
        gpu_memory_bytes=gpu_memory,
    )


def _cpu_name() -> str:
    """The processor's model name: /proc/cpuinfo's on Linux, else what Python's platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    """Physical memory in bytes, from the system's page count (Linux, macOS); None elsewhere."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _has_quality(entry: CatalogueEntry) -> bool:
    quality = entry.quality
    return None not in (quality.vidore_v1, quality.vidore_v2, quality.vidore_v3)


def recommend(hardware: Hardware, catalogue: tuple[CatalogueEntry, ...] = CATALOGUE) -> CatalogueEntry:
    """The catalogue model that suits ``hardware`` best.

    Without a GPU: the best on ViDoRe v3 among the models of fewer than
    :data:`CPU_PARAMETER_LIMIT` parameters (a processor embeds a page with them in seconds, not
    minutes); the smallest when none is that small. With a GPU: the best on ViDoRe v3 whose
    bfloat16 weights take at most :data:`GPU_MEMORY_SHARE` of the GPU's memory; the smallest
    when none fits.
    """
    scored = [entry for entry in catalogue if _has_quality(entry)] or list(catalogue)
    smallest = min(scored, key=lambda entry: entry.parameters)
    if hardware.has_gpu:
        budget = GPU_MEMORY_SHARE * (hardware.gpu_memory_bytes or 0)
        fitting = [entry for entry in scored if entry.memory_bytes("bfloat16") <= budget]
    else:
        fitting = [entry for entry in scored if entry.parameters < CPU_PARAMETER_LIMIT]
    if not fitting:
        return smallest
    return max(fitting, key=lambda entry: (entry.quality.vidore_v3 or 0.0, -entry.parameters))


def why_recommended(hardware: Hardware, entry: CatalogueEntry) -> str:
    """Why :func:`recommend` chose ``entry`` for ``hardware``, in a sentence that names what was
    found on the computer."""
    found = hardware.describe()
    if not hardware.has_gpu:
        if entry.parameters >= CPU_PARAMETER_LIMIT:
            return f"{found}: no model is under 1 B parameters; the smallest one."
        return (
            f"{found}: the best ViDoRe v3 score among the models under 1 B parameters, which a "
            "processor runs fast enough."
        )
    weights = format_bytes(entry.memory_bytes("bfloat16"))
    if entry.memory_bytes("bfloat16") > GPU_MEMORY_SHARE * (hardware.gpu_memory_bytes or 0):
        return f"{found}: no model fits in {GPU_MEMORY_SHARE:.0%} of the GPU's memory; the smallest one."
    return (
        f"{found}: the best ViDoRe v3 score among the models whose weights ({weights} here) "
        f"fit in {GPU_MEMORY_SHARE:.0%} of the GPU's memory."
    )
