#!/bin/sh
# Wrap DocRetriever.app (from build_app.sh, signed and notarised: see SIGNING.md) in a dmg with
# an Applications link, so that installing is dragging the app onto it.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
app="$root/build/macos/DocRetriever.app"
version=$(/usr/libexec/PlistBuddy -c "Print CFBundleShortVersionString" "$app/Contents/Info.plist")
staging="$root/build/macos/dmg"
rm -rf "$staging" && mkdir -p "$staging" "$root/dist/installers"
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
hdiutil create -volname "DocRetriever $version" -srcfolder "$staging" -ov -format UDZO \
    "$root/dist/installers/DocRetriever-$version-arm64.dmg"
