"""Features that change what is drawn only through per-Gaussian flag bits (crop, selection,
pruning; LOD and foveation later).
"""
