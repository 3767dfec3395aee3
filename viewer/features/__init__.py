"""Features that change what is drawn only through per-Gaussian flag bits.

Crop, selection, pruning; LOD and foveation later.
"""
