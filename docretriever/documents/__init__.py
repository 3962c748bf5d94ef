"""Documents: opening PDFs, images, e-books and Office files (:mod:`.opening`), reading their
pages, rendering them for the model and for display."""

from docretriever.documents.discover import UNDECODABLE_NAME, find_documents, is_text_path, shown_path
from docretriever.documents.pdf import PageInfo, PageList, open_pdf, read_page_infos, sha256_of_file
from docretriever.documents.render import RenderedPage, display_size, render_page

__all__ = [
    "UNDECODABLE_NAME",
    "PageInfo",
    "PageList",
    "RenderedPage",
    "display_size",
    "find_documents",
    "is_text_path",
    "open_pdf",
    "read_page_infos",
    "render_page",
    "sha256_of_file",
    "shown_path",
]
