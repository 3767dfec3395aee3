"""Training: datasets, the model and its optimizers, densification, `splatscope train`.

Above the live view (a training run with --view attaches one) and the app; it renders with
the torch reference renderer or gsplat, and writes INRIA training output folders.
"""
