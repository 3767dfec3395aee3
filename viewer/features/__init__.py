"""Features: which Gaussians a frame draws, and how much of them.

Crop, hide and selection flags (`flags`), pruning scores (`pruning`, `score_cache`), the LOD
tree (`lod_hierarchy`, cached by `lod_cache`, attached to a GPU scene by `lod_gpu`) and its
frame-rate target (`lod_controller`), foveation's nested subsets (`foveation`) and the presets
that combine them. They reach the image through per-Gaussian flags (`GpuScene.write_flags`),
what they attach to the GPU scene (`GpuScene.attach_lod`, `GpuScene.write_levels`) and the
`FrameInputs` of a frame; the GPU passes live in viewer/render.
"""
