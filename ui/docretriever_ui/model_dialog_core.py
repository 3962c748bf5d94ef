"""The model set-up dialog's part without widgets: what it says about a download (the core's
plan, the memory the model needs, a download's progress, in words) and what it asks the core
about a model (:func:`look_up`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docretriever.embedding.model_files import DownloadPlan, run_cancellable, why_unavailable
from docretriever.errors import ModelError
from docretriever.progress import CancelToken, Progress, format_bytes

PlanFunction = Callable[..., DownloadPlan]


def describe_plan(plan: DownloadPlan) -> str:
    """What a download will fetch, e.g. "Download: 4.4 GB (12.0 MB of 4.4 GB already on this
    computer)." — the core's plan, so it counts exactly the files the app reads."""
    if plan.download_bytes == 0:
        return f"Download: nothing; all {format_bytes(plan.total_bytes)} are already on this computer."
    text = f"Download: {format_bytes(plan.download_bytes)}"
    if plan.cached_bytes:
        cached, total = format_bytes(plan.cached_bytes), format_bytes(plan.total_bytes)
        text += f" ({cached} of {total} already on this computer)"
    return text + "."


def describe_memory(plan: DownloadPlan) -> str:
    """The memory the weights take: bfloat16 on a GPU, float32 on a CPU (how the core loads them)."""
    gpu, cpu = plan.memory_bytes("bfloat16"), plan.memory_bytes("float32")
    if gpu is None or cpu is None or plan.parameters is None:
        return "Memory needed: unknown (the Hub did not say how many parameters the model has)."
    return (
        f"Memory needed: about {format_bytes(gpu)} on a GPU (bfloat16), {format_bytes(cpu)} on a "
        f"CPU (float32), for {_count(plan.parameters)} parameters."
    )


def _count(number: int) -> str:
    """A parameter count as people say it: "2.21 billion", "252 million", "281 thousand"."""
    for size, word in ((1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if number >= size:
            value = number / size
            return f"{value:,.2f} {word}" if value < 10 else f"{value:,.0f} {word}"
    return str(number)


def format_duration(seconds: float) -> str:
    """A time left, rounded the way a person says it: "40 s", "6 min", "1 h 5 min"."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def describe_download(progress: Progress) -> str:
    """One line for a download's progress: megabytes done and total, speed, time left."""
    parts = [f"{progress.done / 1e6:,.1f} MB"]
    if progress.total:
        parts[0] += f" of {progress.total / 1e6:,.1f} MB"
    if progress.rate:
        parts.append(f"{progress.rate / 1e6:,.1f} MB/s")
    if progress.eta_s is not None and progress.total:
        parts.append(f"about {format_duration(progress.eta_s)} left")
    return " · ".join(parts)


MISSING_TEXT = (
    "DocRetriever reads your pages with a vision-language model, and that model is not on "
    "this computer yet. It is downloaded once into the Hugging Face cache. Without a network "
    'connection, choose a folder that holds the model instead. "Not now" closes this window; '
    "Model → Set up… brings it back."
)
AVAILABLE_TEXT = "This model is on this computer and DocRetriever uses it from there."
AVAILABLE_HUB = (
    " Download fetches only the files that are not here yet (the sizes below say how much); or "
    "choose a model folder instead."
)
NO_PLAN_TIP = "The Hugging Face Hub did not say what to download: Retry, or choose a model folder."
AVAILABLE_FOLDER = " To use another model, choose its folder."


@dataclass(frozen=True)
class Folder:
    """The model is a folder: nothing to download; ``problem`` is the core's reason it cannot be
    used ("" when it can)."""

    problem: str


def look_up(source: str, cancel: CancelToken, plan_download: PlanFunction) -> DownloadPlan | Folder:
    """The core's download plan (from ``plan_download``, the dialog's) for a Hub id; for a model
    folder, whether the core can use it, or, for an adapter folder whose base model (named by Hub
    id) is missing, the base's plan."""
    if Path(source).expanduser().is_dir():
        problem = why_unavailable(source)
        if not problem:
            return Folder("")
        try:
            return run_cancellable(lambda: plan_download(source, cancel), cancel)
        except ModelError:  # nothing the Hub can supply: the folder's own problem says why
            return Folder(problem)
    # Closing the dialog frees the pool's thread at once, however slow the Hub's answer.
    return run_cancellable(lambda: plan_download(source, cancel), cancel)


def only_if(still_wanted: Callable[[], bool], handler: Callable[[Any], None]) -> Callable[[Any], None]:
    """``handler``, called only while ``still_wanted()``: an answer about a model the person has
    since chosen away from is dropped."""

    def call(value: Any) -> None:
        if still_wanted():
            handler(value)

    return call
