"""GPU pipeline: scene buffers, compute/raster passes, sort, timers. Never imports imgui."""
