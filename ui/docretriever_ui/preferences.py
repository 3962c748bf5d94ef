"""The Preferences dialog: which model, on which device, where the library lives, and how new
libraries pool their vectors.

It only edits :class:`AppSettings`; applying a change (reopening the library with another model
or folder) is the caller's job, told by :attr:`PreferencesDialog.needs_reopen`.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from docretriever.embedding.model_source import parse_model_source
from docretriever.errors import ModelError
from docretriever_ui.file_dialogs import choose_folder
from docretriever_ui.model_progress import ERROR_STYLE
from docretriever_ui.settings import DEVICES, AppSettings

_POOLING_LABELS = {
    1: "None: every cell keeps its vector",
    2: "By 2: half the vectors",
    3: "By 3: a third of the vectors (97.8 % of the quality, as colpali-engine reports)",
    4: "By 4: a quarter of the vectors",
}

_DEVICE_LABELS = {
    "auto": "Automatic (the GPU when there is one)",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (Metal)",
    "cpu": "CPU only",
}


def _same_library(a: str, b: str) -> bool:
    """Two spellings of one folder ("~/lib", "/home/me/lib/") are not a change of library; a
    server address is compared as written."""
    if "://" in a or "://" in b:
        return a.strip() == b.strip()
    return os.path.normcase(os.path.abspath(os.path.expanduser(a))) == os.path.normcase(
        os.path.abspath(os.path.expanduser(b))
    )


class PreferencesDialog(QDialog):
    """Edits the model (a Hub id or a folder), the device, the library folder and the token
    pooling of new libraries.

    OK validates and writes the settings; afterwards ``changed`` names what differs from before
    ("model", "device", "library", "token_pooling", "remember_searches", "watch_folders") and ``needs_reopen``
    says whether the library must be opened again for the change to take effect.

    ``remember_searches`` is whether the library remembers the searches (kept in the library,
    not in the settings: the caller reads it and applies ``remember_searches`` after OK); None
    for a library that cannot (a server library), which disables the checkbox.
    """

    def __init__(
        self, settings: AppSettings, parent: QWidget | None = None, *, remember_searches: bool | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.changed: frozenset[str] = frozenset()
        self.remember_searches = remember_searches
        self.setWindowTitle("Preferences")

        self.model_edit = QLineEdit(settings.model)
        self.model_edit.setPlaceholderText("vidore/colqwen2-v1.0, owner/name@revision, or a model folder")
        self.model_edit.setToolTip(
            "A Hugging Face model id (downloaded once into the Hugging Face cache), with @revision "
            "to pin a branch, tag or commit, or a folder that holds the model. Changing the model "
            "needs a library built with that model."
        )
        self.model_browse = QPushButton("Browse…")
        self.model_browse.clicked.connect(self._browse_model)

        self.device_combo = QComboBox()
        for device in DEVICES:
            self.device_combo.addItem(_DEVICE_LABELS.get(device, device), device)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(settings.device)))

        self.pooling_combo = QComboBox()
        for factor, label in _POOLING_LABELS.items():
            self.pooling_combo.addItem(label, factor)
        self.pooling_combo.setCurrentIndex(max(0, self.pooling_combo.findData(settings.token_pooling)))
        self.pooling_combo.setToolTip(
            "Token pooling merges similar page vectors at indexing: a smaller, faster library, "
            "slightly coarser highlights. It is fixed when a library is created; an existing "
            "library keeps its own."
        )

        self.library_edit = QLineEdit(settings.library)
        self.library_edit.setToolTip(
            "A folder on this computer, or a Qdrant collection shared by several desktops: "
            "qdrant://host:6333/collection (qdrants:// for HTTPS, qdrant+grpc:// for gRPC)."
        )
        self.api_key_edit = QLineEdit(settings.qdrant_api_key)
        self.api_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key_edit.setPlaceholderText("for qdrant:// libraries; or set DOCRETRIEVER_QDRANT_API_KEY")
        self.library_browse = QPushButton("Browse…")
        self.library_browse.clicked.connect(self._browse_library)

        self.remember_check = QCheckBox("Remember my searches to measure search quality")
        self.remember_check.setChecked(remember_searches is not False)
        self.remember_check.setEnabled(remember_searches is not None)
        self.remember_check.setToolTip(
            "The library keeps your last 200 searches, on this computer only, so that it can check "
            "now and then that its fast search finds what an exhaustive search finds (and adjust "
            "itself), and so that `docretriever bench` measures it on real queries. Unticking it "
            "also forgets the searches kept."
            if remember_searches is not None
            else "Only a library on this computer remembers searches."
        )

        self.watch_check = QCheckBox("Watch added folders for changes")
        self.watch_check.setChecked(settings.watch_folders)
        self.watch_check.setToolTip(
            "While DocRetriever runs, files put into the folders you added are indexed once they are "
            "written, edited ones indexed again, moved ones found, and deleted ones marked missing "
            "(kept, still searchable), as Sync would."
        )

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet(ERROR_STYLE)
        self.message_label.setVisible(False)

        form = QFormLayout()
        form.addRow("Model:", _with_button(self.model_edit, self.model_browse))
        form.addRow("Device:", self.device_combo)
        form.addRow("Library:", _with_button(self.library_edit, self.library_browse))
        form.addRow("Qdrant API key:", self.api_key_edit)
        form.addRow("Token pooling (new libraries):", self.pooling_combo)
        form.addRow("", self.remember_check)
        form.addRow("", self.watch_check)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)

    @property
    def model_changed(self) -> bool:
        return "model" in self.changed

    @property
    def device_changed(self) -> bool:
        return "device" in self.changed

    @property
    def library_changed(self) -> bool:
        return "library" in self.changed

    @property
    def needs_reopen(self) -> bool:
        """True when the library must be reopened: another folder, another model, or the model
        on another device (the loaded model stays on the device it was loaded on)."""
        return bool(self.changed - {"remember_searches", "watch_folders"})  # applied as it is

    def accept(self) -> None:
        """Validate the fields, write what changed to the settings, then close."""
        model = self.model_edit.text().strip()
        library = self.library_edit.text().strip()
        device = str(self.device_combo.currentData())
        problem = self._problem(model, library)
        if problem:
            self.message_label.setText(problem)
            self.message_label.setVisible(True)
            return
        changed = set()
        if model != self.settings.model:
            changed.add("model")
            self.settings.model = model
        if device != self.settings.device:
            changed.add("device")
            self.settings.device = device
        pooling = int(self.pooling_combo.currentData())
        if pooling != self.settings.token_pooling:
            changed.add("token_pooling")
            self.settings.token_pooling = pooling
        if not _same_library(library, self.settings.library):
            changed.add("library")
            self.settings.library = library if "://" in library else str(Path(library).expanduser())
        api_key = self.api_key_edit.text().strip()
        if api_key != self.settings.qdrant_api_key:
            changed.add("api_key")
            self.settings.qdrant_api_key = api_key
        if self.remember_searches is not None and self.remember_check.isChecked() != self.remember_searches:
            changed.add("remember_searches")
            self.remember_searches = self.remember_check.isChecked()
        if self.watch_check.isChecked() != self.settings.watch_folders:
            changed.add("watch_folders")
            self.settings.watch_folders = self.watch_check.isChecked()
        self.settings.sync()
        self.changed = frozenset(changed)
        super().accept()

    @staticmethod
    def _problem(model: str, library: str) -> str:
        if not model:
            return "Enter a model: a Hugging Face model id such as vidore/colqwen2-v1.0, or a model folder."
        try:
            parse_model_source(model)  # the text's form only: no network, no file read
        except ModelError as exc:
            return str(exc)
        if not library:
            return "Enter the folder where the library is kept."
        if "://" in library:
            from docretriever.errors import InvalidInputError
            from docretriever.library.qdrant.location import QdrantLocation

            try:
                QdrantLocation.parse(library)
            except InvalidInputError as exc:
                return str(exc)
            return ""
        if Path(library).expanduser().is_file():
            return f"{library} is a file; the library needs a folder."
        return ""

    def _browse_model(self) -> None:
        folder = choose_folder(
            self, self.settings, "model", "Choose the model folder", _start(self.model_edit)
        )
        if folder:
            self.model_edit.setText(folder)

    def _browse_library(self) -> None:
        folder = choose_folder(
            self, self.settings, "library", "Choose the library folder", _start(self.library_edit)
        )
        if folder:
            self.library_edit.setText(folder)


def _start(edit: QLineEdit) -> str:
    """Where a folder picker opens: the field's folder when it is one (a Hub id is not)."""
    path = Path(edit.text().strip()).expanduser()
    return str(path) if edit.text().strip() and path.is_dir() else ""


def _with_button(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row
