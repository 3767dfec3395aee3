"""`splatscope bench`: frame times and image quality of settings configurations along a camera path.

Modules: `configs` (--config parsing), `paths` (camera paths), `quality` (PSNR/SSIM), `runner`
(the interleaved timing loop), `report` (report.json, frames.csv, summary table), `plots`, `cli`.
"""
