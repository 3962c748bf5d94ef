"""How long the desktop app takes to show its window, and to quit once the model has loaded.

    Xvfb :63 -screen 0 1400x900x24 &
    DISPLAY=:63 uv run python benchmarks/gui_start_quit.py --model /tmp/tiny \
        --pdfs ../shared/corpus/sample-files/015-arabic [--tree /tmp/before] [--settle 30]

Each round starts ``docretriever-gui`` as a person does (a fresh process, its own settings in a
temporary XDG_CONFIG_HOME naming ``--model`` and a library built beforehand from ``--pdfs`` with
the CLI), under the X server in $DISPLAY, and measures:

- start-up: from the process start until its main window is mapped (``xdotool search --sync``);
- quit: after the model has loaded and one search has shown its thumbnails (``--settle``
  seconds after a query is typed), from Ctrl+Q (sent with ``xdotool``) until the process has
  exited.

``--tree`` runs another checkout's code (``PYTHONPATH=TREE:TREE/ui``), for before/after figures
with the same interpreter and packages. Needs Xvfb (or any X server) and xdotool.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = "import sys; from docretriever_ui.app import main; sys.exit(main())"


def xdotool(*args: str, timeout: float = 60) -> str:
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=timeout).stdout


def one_round(env: dict[str, str], settle: float, tree: Path, shot: str | None = None) -> dict[str, float]:
    """Start the app, wait for its window, search once, let it settle, quit with Ctrl+Q."""
    started = time.perf_counter()
    app = subprocess.Popen([sys.executable, "-c", LAUNCH], env=env, cwd=tree)
    try:
        window = xdotool("search", "--sync", "--onlyvisible", "--pid", str(app.pid), "--name", "DocRetriever")
        shown = time.perf_counter() - started
        window_id = window.split()[0]
        xdotool("windowfocus", "--sync", window_id)
        xdotool("key", "ctrl+f")
        xdotool("type", "arabic text")
        xdotool("key", "Return")
        time.sleep(settle)  # the model loads, the search runs, the thumbnails render: not timed
        if app.poll() is not None:
            raise SystemExit(f"the app exited early with {app.returncode}")
        if shot:  # what the window showed before Ctrl+Q: the search done, the model loaded
            subprocess.run(["import", "-window", "root", shot], check=True)
        xdotool("windowfocus", "--sync", window_id)
        asked = time.perf_counter()
        xdotool("key", "ctrl+q")
        code = app.wait(timeout=120)
        quit_s = time.perf_counter() - asked
        if code != 0:
            raise SystemExit(f"the app exited with {code}")
        return {"window_shown_s": shown, "quit_s": quit_s}
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="model folder (e.g. the tiny model)")
    parser.add_argument("--pdfs", nargs="*", default=[], help="PDF files or folders for the library")
    parser.add_argument("--tree", default=str(ROOT), help="checkout whose code runs (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds between the search and Ctrl+Q")
    parser.add_argument("--shot", help="a PNG of the screen just before each Ctrl+Q")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if "DISPLAY" not in os.environ:
        parser.error("set DISPLAY to an X server (Xvfb)")
    tree = Path(args.tree).resolve()
    with tempfile.TemporaryDirectory(prefix="gui-start-quit-") as scratch:
        library, config = Path(scratch) / "library", Path(scratch) / "config"
        (config / "DocRetriever").mkdir(parents=True)
        (config / "DocRetriever" / "DocRetriever.conf").write_text(
            f"[model]\nsource={args.model}\ndevice=cpu\n\n[library]\nlocation={library}\n"
        )
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(config),
            "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'ui'}",
            "QT_QPA_PLATFORM": "xcb",
        }
        if args.pdfs:
            common = ["--library", str(library), "--model", args.model, "--device", "cpu"]
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "docretriever",
                    *common,
                    "add",
                    *(str(Path(p).resolve()) for p in args.pdfs),
                ],
                check=True,
                env=env,
                cwd=tree,
            )
        rounds = [one_round(env, args.settle, tree, args.shot) for _ in range(args.rounds)]
    figures = {
        "tree": str(tree),
        "rounds": rounds,
        "median_window_shown_s": statistics.median(r["window_shown_s"] for r in rounds),
        "median_quit_s": statistics.median(r["quit_s"] for r in rounds),
        "load_average": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{tree}: {args.rounds} rounds, load average {figures['load_average']:.1f}")
    for number, one in enumerate(rounds, 1):
        shown, quit_s = one["window_shown_s"], one["quit_s"]
        print(f"  round {number}: window shown after {shown:.2f} s, quit in {quit_s:.2f} s")
    print(f"  median: window {figures['median_window_shown_s']:.2f} s, quit {figures['median_quit_s']:.2f} s")


if __name__ == "__main__":
    main()
