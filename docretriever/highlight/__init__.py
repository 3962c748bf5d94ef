"""Highlights: a hit's similarity map as a heat map and boxes on the page."""

from docretriever.highlight.draw import draw_highlights
from docretriever.highlight.regions import Region, find_regions, heat_map, to_unrotated

__all__ = ["Region", "draw_highlights", "find_regions", "heat_map", "to_unrotated"]
