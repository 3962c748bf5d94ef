; DocRetriever's Windows installer (NSIS 3). Per-user: no administrator rights needed.
;
;   makensis -DVERSION=0.1.0 -DSTAGE=C:\build\stage -DOUTFILE=DocRetriever-0.1.0-setup.exe docretriever.nsi
;
; STAGE holds what packaging/build.py stages for Linux, built on Windows: launcher\ (the
; PyInstaller folder with docretriever.exe) and payload\ (uv.exe, the app wheel, pyproject.toml,
; uv.lock, requirements.txt; optionally wheels\ for the offline pack). The launcher builds the
; per-user environment at first start, installing PyTorch's CUDA build when an NVIDIA GPU is
; present (PyPI's Windows torch is CPU-only).

Unicode true
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "Pass -DVERSION=x.y.z"
!endif
!ifndef STAGE
  !error "Pass -DSTAGE=<folder with launcher\ and payload\>"
!endif
!ifndef OUTFILE
  !define OUTFILE "DocRetriever-${VERSION}-setup.exe"
!endif

!include "MUI2.nsh"

Name "DocRetriever"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\DocRetriever"
; The app's own settings live in HKCU\Software\DocRetriever\DocRetriever (QSettings): the
; installer keeps to its own subkey so that uninstalling never loses them.
!define INSTALLER_KEY "Software\DocRetriever\Installer"
InstallDirRegKey HKCU "${INSTALLER_KEY}" "InstallDir"
RequestExecutionLevel user
BrandingText "DocRetriever ${VERSION}"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\DocRetriever"
!define DATA_DIR "$LOCALAPPDATA\DocRetriever"

!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\launcher\docretriever.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start DocRetriever (the first start downloads about 3 GB of libraries)"
!insertmacro MUI_PAGE_LICENSE "${STAGE}\LICENSE"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "DocRetriever"
VIAddVersionKey "FileDescription" "DocRetriever installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "AGPL-3.0-or-later"

; The extensions DocRetriever reads (docretriever/documents/formats.py), for "Open with".
!macro OpenWith EXT
  WriteRegStr HKCU "Software\Classes\Applications\docretriever.exe\SupportedTypes" "${EXT}" ""
  WriteRegStr HKCU "Software\Classes\${EXT}\OpenWithList\docretriever.exe" "" ""
!macroend
!macro NoOpenWith EXT
  DeleteRegValue HKCU "Software\Classes\${EXT}\OpenWithList\docretriever.exe" ""
  DeleteRegKey HKCU "Software\Classes\${EXT}\OpenWithList\docretriever.exe"
!macroend

Section "DocRetriever" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the program files; the environment is rebuilt by the launcher only if
  ; the lock or the app changed, and the library is never touched.
  RMDir /r "$INSTDIR\launcher"
  RMDir /r "$INSTDIR\payload"
  File /r "${STAGE}\launcher"
  File /r "${STAGE}\payload"
  File "${STAGE}\LICENSE"
  File "${STAGE}\THIRD-PARTY-NOTICES.md"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateDirectory "$SMPROGRAMS\DocRetriever"
  CreateShortcut "$SMPROGRAMS\DocRetriever\DocRetriever.lnk" "$INSTDIR\launcher\docretriever.exe"
  CreateShortcut "$SMPROGRAMS\DocRetriever\Uninstall DocRetriever.lnk" "$INSTDIR\uninstall.exe"

  ; "Open with DocRetriever" for the documents it reads: the launcher passes the files to the
  ; app, which adds them.
  WriteRegStr HKCU "Software\Classes\Applications\docretriever.exe\shell\open\command" "" '"$INSTDIR\launcher\docretriever.exe" "%1"'
  WriteRegStr HKCU "Software\Classes\Applications\docretriever.exe" "FriendlyAppName" "DocRetriever"
  !insertmacro OpenWith ".pdf"
  !insertmacro OpenWith ".png"
  !insertmacro OpenWith ".jpg"
  !insertmacro OpenWith ".jpeg"
  !insertmacro OpenWith ".jpe"
  !insertmacro OpenWith ".jfif"
  !insertmacro OpenWith ".tif"
  !insertmacro OpenWith ".tiff"
  !insertmacro OpenWith ".webp"
  !insertmacro OpenWith ".bmp"
  !insertmacro OpenWith ".xps"
  !insertmacro OpenWith ".oxps"
  !insertmacro OpenWith ".epub"
  !insertmacro OpenWith ".cbz"
  !insertmacro OpenWith ".svg"
  !insertmacro OpenWith ".fb2"
  !insertmacro OpenWith ".mobi"
  !insertmacro OpenWith ".docx"
  !insertmacro OpenWith ".doc"
  !insertmacro OpenWith ".odt"
  !insertmacro OpenWith ".rtf"
  !insertmacro OpenWith ".pptx"
  !insertmacro OpenWith ".ppt"
  !insertmacro OpenWith ".odp"
  !insertmacro OpenWith ".xlsx"
  !insertmacro OpenWith ".xls"
  !insertmacro OpenWith ".ods"

  WriteRegStr HKCU "${INSTALLER_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "DocRetriever"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "DocRetriever developers"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\launcher\docretriever.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  RMDir /r "$INSTDIR\launcher"
  RMDir /r "$INSTDIR\payload"
  Delete "$INSTDIR\LICENSE"
  Delete "$INSTDIR\THIRD-PARTY-NOTICES.md"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  RMDir /r "$SMPROGRAMS\DocRetriever"
  DeleteRegKey HKCU "Software\Classes\Applications\docretriever.exe"
  !insertmacro NoOpenWith ".pdf"
  !insertmacro NoOpenWith ".png"
  !insertmacro NoOpenWith ".jpg"
  !insertmacro NoOpenWith ".jpeg"
  !insertmacro NoOpenWith ".jpe"
  !insertmacro NoOpenWith ".jfif"
  !insertmacro NoOpenWith ".tif"
  !insertmacro NoOpenWith ".tiff"
  !insertmacro NoOpenWith ".webp"
  !insertmacro NoOpenWith ".bmp"
  !insertmacro NoOpenWith ".xps"
  !insertmacro NoOpenWith ".oxps"
  !insertmacro NoOpenWith ".epub"
  !insertmacro NoOpenWith ".cbz"
  !insertmacro NoOpenWith ".svg"
  !insertmacro NoOpenWith ".fb2"
  !insertmacro NoOpenWith ".mobi"
  !insertmacro NoOpenWith ".docx"
  !insertmacro NoOpenWith ".doc"
  !insertmacro NoOpenWith ".odt"
  !insertmacro NoOpenWith ".rtf"
  !insertmacro NoOpenWith ".pptx"
  !insertmacro NoOpenWith ".ppt"
  !insertmacro NoOpenWith ".odp"
  !insertmacro NoOpenWith ".xlsx"
  !insertmacro NoOpenWith ".xls"
  !insertmacro NoOpenWith ".ods"
  DeleteRegKey HKCU "${INSTALLER_KEY}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"

  ; The downloaded environment goes (uv's download cache in %LOCALAPPDATA%\uv stays, shared
  ; with other programs); the library (the indexed documents) stays unless asked.
  RMDir /r "${DATA_DIR}\runtime"
  MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON1 \
    "Keep your DocRetriever library (the indexed documents) in ${DATA_DIR}\library?$\r$\n$\r$\nChoose No to delete it." \
    /SD IDYES IDYES keep
  RMDir /r "${DATA_DIR}\library"
  RMDir "${DATA_DIR}"
  keep:
SectionEnd
