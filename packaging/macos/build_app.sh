#!/bin/sh
# Build DocRetriever.app on macOS (arm64), from a checkout, with the packaging group synced:
#   uv sync --frozen --group packaging && sh packaging/macos/build_app.sh
# The bundle holds the PyInstaller launcher in Contents/MacOS and the payload (uv, the app
# wheel, pyproject.toml, uv.lock, requirements.txt) in Contents/Resources/payload. At first start
# the launcher builds the per-user environment in ~/Library/Application Support/DocRetriever,
# where uv resolves PyPI's macOS arm64 torch (Metal/MPS support included). Not run on this
# project's Linux machines: written from PyInstaller's and Apple's documentation.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$root/build/macos"
version=$(uv run --frozen python -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
rm -rf "$work" && mkdir -p "$work"
uv run --frozen --group packaging python - "$work" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "packaging")
import build
work = Path(sys.argv[1])
build.build_payload(work)
build.freeze_launcher(work)
PY
app="$work/DocRetriever.app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp -R "$work/launcher/." "$app/Contents/MacOS/"
cp -R "$work/payload" "$app/Contents/Resources/payload"
sed "s/@VERSION@/$version/g" "$root/packaging/macos/Info.plist" >"$app/Contents/Info.plist"
# The icon: docretriever.svg rendered to an .icns (iconutil needs a PNG iconset).
iconset="$work/docretriever.iconset" && mkdir -p "$iconset"
for size in 16 32 128 256 512; do
    qlmanage -t -s $size -o "$iconset" "$root/packaging/docretriever.svg" >/dev/null 2>&1 || true
    [ -f "$iconset/docretriever.svg.png" ] && mv "$iconset/docretriever.svg.png" "$iconset/icon_${size}x${size}.png"
done
iconutil -c icns -o "$app/Contents/Resources/docretriever.icns" "$iconset" || echo "no icon (iconutil failed)"
cp "$root/LICENSE" "$root/THIRD-PARTY-NOTICES.md" "$app/Contents/Resources/"
echo "$app"
