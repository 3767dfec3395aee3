"""Watching a training from another machine: the network transport of the live view.

- `frames`: length-prefixed messages with a type byte, every length bounded.
- `codec`: what the messages hold (the handshake, models as snapshots and row deltas, the
  viewer's controls), each decoder checking everything it reads.
- `server`: the training side, a thread that never blocks the training step.
- `client`: the viewer side, the connection object the live window polls.
"""
