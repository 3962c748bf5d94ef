"""Search: a codebook first stage (USearch), centroid MaxSim, then exact MaxSim on the best."""

from docretriever.search.candidates import CandidateIndex
from docretriever.search.maxsim import maxsim_scores, similarity_map
from docretriever.search.pooling import pool_cells

__all__ = ["CandidateIndex", "maxsim_scores", "pool_cells", "similarity_map"]
