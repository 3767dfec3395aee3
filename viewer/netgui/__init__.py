"""The original 3DGS trainer's network GUI, seen from the viewer's side.

`protocol`: the messages (pure: encode a camera request, decode the image reply). `client`: a
worker thread that keeps one connection to the trainer and its latest image. No GL here.
"""
