#!/bin/sh
# For the .tar.gz: add DocRetriever to this user's applications menu and "Open with" for PDFs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
applications="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
mkdir -p "$applications" "$icons"
cp "$here/docretriever.svg" "$icons/docretriever.svg"
sed "s#^Exec=.*#Exec=\"$here/launcher/docretriever\" %F#" >"$applications/docretriever.desktop" <<ENTRY
[Desktop Entry]
Type=Application
Name=DocRetriever
GenericName=PDF page search
Comment=Find the right page in your PDFs by looking at the pages
Exec=placeholder
Icon=docretriever
Terminal=false
Categories=Office;Viewer;Utility;
MimeType=application/pdf;
ENTRY
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$applications" || true
echo "DocRetriever is in your applications menu; start it once to finish the set-up."
