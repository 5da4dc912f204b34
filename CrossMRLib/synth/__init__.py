"""Domain-randomised training images: random MR contrasts rendered from tissue maps (`contrast`), and a
synthetic body around real organ label maps (`body`), so a model can train on real organ shapes without a
single real image voxel."""

from .body import body_tissues
from .contrast import RandomContrast, render

__all__ = ["RandomContrast", "body_tissues", "render"]
