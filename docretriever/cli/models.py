"""``docretriever models``: the catalogue for this computer, and ``--measure`` to time the models
that are on it. A thin shell over :mod:`docretriever.embedding.model_choice`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from docretriever.cli.progress_bar import ProgressBar
from docretriever.embedding import ModelSpec
from docretriever.embedding.catalogue import catalogue_entry
from docretriever.embedding.hardware import Hardware, detect_hardware
from docretriever.embedding.model_choice import ModelChoice, ModelRow, model_choice
from docretriever.embedding.model_files import model_is_available, why_unavailable
from docretriever.embedding.speed import SpeedMeasurement, cached_speed, measure_model
from docretriever.progress import CancelToken

_COLUMNS = (
    ("model", lambda row: row.entry.hub_id),
    ("family", lambda row: row.entry.family.name),
    ("params", lambda row: row.parameters_text),
    ("rows", lambda row: str(row.entry.row_dim)),
    ("cells a page", lambda row: row.cells_text),
    ("ViDoRe v1 / v2 / v3", lambda row: row.quality_text),
    ("download", lambda row: row.download_text),
    ("memory CPU / GPU", lambda row: row.memory_text),
    ("here", lambda row: "yes" if row.here else "no"),
    ("speed here", lambda row: row.speed_text),
)


def run_models(args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken) -> int:
    """List the catalogue; with ``--measure``, first time the models on this computer (only
    ``--model``'s when one is named) and remember the results."""
    hardware = detect_hardware()
    measured: list[SpeedMeasurement] = []
    skipped: list[tuple[str, str]] = []
    if args.measure:
        measured, skipped = _measure(args, hardware, bar, cancel)
    choice = model_choice(hardware)
    other = _other_model(args, hardware)
    if args.json:
        print(
            json.dumps(
                {
                    "hardware": {**asdict(hardware), "machine_key": hardware.machine_key},
                    "recommended": choice.recommended.entry.hub_id,
                    "reason": choice.reason,
                    "models": [row.as_json() for row in choice.rows],
                    "measured": [asdict(m) for m in measured],
                    "skipped": [{"model": model, "reason": reason} for model, reason in skipped],
                    "other_model": asdict(other) if other else None,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    for model, reason in skipped:
        print(f"not measured {model}: {reason}")
    for measurement in measured:
        print(f"measured {measurement.model}: {measurement.describe()}")
    print(format_table(choice))
    if other:
        print(f"\n{other.model}: {other.describe()}, measured here.")
    return 0


def format_table(choice: ModelChoice) -> str:
    """The catalogue as a text table, the recommended model starred, then why, the licences and
    where the scores come from."""
    cells = [[name for name, _ in _COLUMNS], *[[cell(row) for _, cell in _COLUMNS] for row in choice.rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    marks = ["", *["*" if row.recommended else "" for row in choice.rows]]
    lines = [
        f"{mark:1} " + "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for mark, line in zip(marks, cells, strict=True)
    ]
    lines.append("")
    lines.append(f"* recommended for this computer. Found {choice.reason}")
    lines.append(
        "Memory: the weights in float32 on a CPU / in bfloat16 on a GPU, before a batch's activations."
    )
    lines.append(f"Quality: nDCG (v1, v2 @5; v3 @10), {_source(choice.rows)}.")
    lines.append("Licences:")
    lines.extend(f"  {row.entry.hub_id}: {row.entry.licence}" for row in choice.rows)
    lines.append(
        "Get one with `docretriever download --model ID`, use it with `--model ID`; "
        "`docretriever models --measure` times those on this computer."
    )
    return "\n".join(lines)


def _source(rows: tuple[ModelRow, ...]) -> str:
    return "; ".join(dict.fromkeys(row.entry.quality.source for row in rows))


def _measure(
    args: argparse.Namespace, hardware: Hardware, bar: ProgressBar, cancel: CancelToken
) -> tuple[list[SpeedMeasurement], list[tuple[str, str]]]:
    """Time each model to measure (``--model``'s, else every catalogue model on this computer);
    the others are skipped with the reason."""
    from docretriever.embedding.catalogue import CATALOGUE

    sources = [args.model] if args.model else [entry.hub_id for entry in CATALOGUE]
    measured: list[SpeedMeasurement] = []
    skipped: list[tuple[str, str]] = []
    for source in sources:
        if not model_is_available(source):
            if args.model:
                skipped.append((source, why_unavailable(source)))
            else:
                skipped.append(
                    (source, f"not on this computer (`docretriever download --model {source}` gets it)")
                )
            continue
        print(f"Measuring {source} (loading it first)...", file=sys.stderr)
        spec = ModelSpec(source, args.device, args.visual_tokens, download=False)
        measured.append(measure_model(spec, hardware.machine_key, progress=bar, cancel=cancel))
        bar.finish()
    return measured, skipped


def _other_model(args: argparse.Namespace, hardware: Hardware) -> SpeedMeasurement | None:
    """The newest measurement here of ``--model`` when it is not a catalogue model (a folder)."""
    if not args.model or catalogue_entry(args.model) is not None:
        return None
    return cached_speed(args.model, hardware.machine_key)
