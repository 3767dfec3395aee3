"""Out-of-core viewing of streamed SOG scenes (lod-meta.json): chunks resident as the camera needs.

`leaves` reads the index's spatial leaves, `plan` picks each leaf's level for a camera under a
budget, `chunk_cache` reads chunk files on worker threads into a bounded host cache, `row_pool`
hands out the GPU scene's rows, and `scene_stream` ties them together once per frame.
"""
