#!/bin/sh
# For the .tar.gz: add DocRetriever to this user's applications menu and "Open with" for the documents it reads.
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
GenericName=Document page search
Comment=Find the right page in your documents (PDFs, scans, photos, Office files) by looking at the pages
Exec=placeholder
Icon=docretriever
Terminal=false
Categories=Office;Viewer;Utility;
MimeType=application/pdf;image/png;image/jpeg;image/tiff;image/webp;image/bmp;application/oxps;application/vnd.ms-xpsdocument;application/epub+zip;application/vnd.comicbook+zip;application/x-cbz;image/svg+xml;application/x-fictionbook+xml;application/x-mobipocket-ebook;application/vnd.openxmlformats-officedocument.wordprocessingml.document;application/msword;application/vnd.oasis.opendocument.text;application/rtf;text/rtf;application/vnd.openxmlformats-officedocument.presentationml.presentation;application/vnd.ms-powerpoint;application/vnd.oasis.opendocument.presentation;application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;application/vnd.ms-excel;application/vnd.oasis.opendocument.spreadsheet;
ENTRY
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$applications" || true
echo "DocRetriever is in your applications menu; start it once to finish the set-up."
