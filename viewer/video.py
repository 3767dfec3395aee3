"""Video files and frame folders: the frames of a camera path as an H.264 .mp4 or numbered PNGs.

The video is encoded in-process by PyAV, whose wheels carry FFmpeg with libx264 (no system
ffmpeg needed): H.264 in yuv420p, tagged BT.709 (limited range), the colour space and sampling
every player reads. yuv420p halves the chroma resolution, so both sides of the image must be
even. The .mp4 is written to a temporary file beside the target and renamed into place
(viewer.atomic_write); a frame folder is one unit (viewer.atomic_write.atomic_folder).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from viewer.atomic_write import atomic_output
from viewer.errors import SceneError, quoted
from viewer.image_files import to_rgb8
from viewer.input_files import OutputIsInputError, check_no_inputs_under

VIDEO_SUFFIX = ".mp4"
CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"  # what every player decodes; needs even widths and heights
CRF = 18  # x264's constant quality: visually near lossless for rendered images
PRESET = "medium"  # x264's speed/size trade-off
FRAME_PREFIX = "frame_"
FRAME_DIGITS = 5  # frame_00000.png; more digits when the count needs them
_FRAME_NAME = re.compile(rf"{FRAME_PREFIX}[0-9]+\.png")
SHOWN_NAMES = 3  # strangers named in the message


def is_folder_output(path: str) -> bool:
    """Whether `--out path` names a folder of frames: a name ending in / or an existing folder."""
    return path.endswith(("/", os.sep)) or os.path.isdir(path)


def odd_side(width: int, height: int) -> str | None:
    """Why an H.264 yuv420p video cannot be `width` x `height` (an odd side), else None."""
    odd = [f"{name} {value}" for name, value in (("width", width), ("height", height)) if value % 2]
    if not odd:
        return None
    even = f"{width + width % 2}x{height + height % 2}"
    verb = "is" if len(odd) == 1 else "are"
    return (
        f"{' and '.join(odd)} {verb} odd: H.264 video (yuv420p) needs even sizes (e.g. {even}), "
        "or write PNG frames to a folder (--out FOLDER/)"
    )


def frame_name(index: int, count: int) -> str:
    """The file name of frame `index` of `count`: frame_00000.png, zero-padded to sort."""
    digits = max(FRAME_DIGITS, len(str(max(count - 1, 0))))
    return f"{FRAME_PREFIX}{index:0{digits}d}.png"


def check_frames_folder(folder: Path, label: str) -> None:
    """Raise SceneError naming `label` unless new frames may replace the existing `folder`.

    They may when it holds only frame PNGs (regular files named frame_N.png, as an earlier run
    wrote) and none of them is an input of this process: the folder is replaced whole.
    """
    try:
        check_no_inputs_under(folder)
        strangers = [
            entry.name
            for entry in sorted(os.scandir(folder), key=lambda e: e.name)
            if not (_FRAME_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False))
        ]
    except OutputIsInputError as exc:
        raise SceneError(f"{label}: {quoted(exc.filename)}", exc.problem) from None
    except OSError as exc:
        raise SceneError(label, f"cannot list the folder ({exc.strerror or exc})") from None
    if strangers:
        shown = ", ".join(quoted(name) for name in strangers[:SHOWN_NAMES])
        more = ", ..." if len(strangers) > SHOWN_NAMES else ""
        raise SceneError(
            label,
            f"holds files other than frame PNGs ({shown}{more}); the frames replace the folder "
            "whole, so name a new folder, an empty one or an earlier run's",
        )


def _rate(fps: float) -> Fraction:
    """The frame rate as the fraction the container stores (29.97 is 2997/100)."""
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"the frame rate must be positive, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _configure(codec: Any, width: int, height: int) -> None:
    """Set an H.264 encoder's size, pixel format, quality and colour tags (BT.709, limited)."""
    codec.width, codec.height, codec.pix_fmt = width, height, PIXEL_FORMAT
    codec.options = {"crf": str(CRF), "preset": PRESET}
    codec.colorspace = codec.color_primaries = codec.color_trc = 1  # BT.709
    codec.color_range = 1  # limited ("MPEG", 16-235)


def check_video(width: int, height: int, fps: float) -> None:
    """Whether an encoder for a `width` x `height` video at `fps` opens (it is freed after).

    Raises:
        ValueError: saying why not: an odd side, a bad rate, or sizes the encoder refuses.
    """
    import av

    problem = odd_side(width, height)
    if problem is not None:
        raise ValueError(problem)
    codec = av.CodecContext.create(CODEC, "w")
    codec.time_base = 1 / _rate(fps)
    _configure(codec, width, height)
    try:
        codec.open()
    except av.FFmpegError as exc:
        raise ValueError(
            f"the H.264 encoder ({CODEC}) refuses {width}x{height} images ({exc.strerror})"
        ) from None


@contextlib.contextmanager
def video_output(
    path: str | Path, width: int, height: int, fps: float
) -> Iterator[Callable[[np.ndarray], None]]:
    """A function that appends a float [H, W, 3] frame to the H.264 .mp4 video `path`.

    Usage::

        with video_output("orbit.mp4", 1280, 720, 30.0) as write:
            for image in images:
                write(image)

    The encoder is opened before the block runs (`check_video` says beforehand whether it
    can be). The video replaces `path` when the block ends without an exception (encoder
    flushed, file synced, renamed into place); otherwise the temporary file is removed and
    `path` is left as it was.

    Raises:
        ValueError: for an odd width or height (see `odd_side`) or a non-positive rate.
        av.FFmpegError: when the encoder refuses the settings.
        OSError: as viewer.atomic_write.atomic_output.
    """
    import av
    from av.video.reformatter import ColorRange, Colorspace

    problem = odd_side(width, height)
    if problem is not None:
        raise ValueError(problem)
    rate = _rate(fps)
    with atomic_output(path) as file:
        container = av.open(file, mode="w", format="mp4")
        try:
            stream = container.add_stream(CODEC, rate=rate)
            assert isinstance(stream, av.VideoStream)
            _configure(stream.codec_context, width, height)

            def write(image: np.ndarray) -> None:
                rgb = av.VideoFrame.from_ndarray(to_rgb8(image), format="rgb24")
                frame = rgb.reformat(
                    format=PIXEL_FORMAT,
                    dst_colorspace=Colorspace.ITU709,
                    dst_color_range=ColorRange.MPEG,
                )
                for packet in stream.encode(frame):
                    container.mux(packet)

            stream.codec_context.open()  # an encoder that refuses the settings fails here
            yield write
            for packet in stream.encode():  # flush the encoder's delayed frames
                container.mux(packet)
        except BaseException:
            with contextlib.suppress(Exception):  # the error in flight is the one to report
                container.close()
            raise
        container.close()
