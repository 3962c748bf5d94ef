"""Search: a USearch first stage over pooled page vectors, then exact MaxSim on the candidates."""

from docretriever.search.candidates import CandidateIndex, pool_cells, pooled_count
from docretriever.search.maxsim import maxsim_scores, similarity_map

__all__ = ["CandidateIndex", "maxsim_scores", "pool_cells", "pooled_count", "similarity_map"]
