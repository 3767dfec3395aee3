"""The hostile-input corpus: damaged inputs of every kind, made from small valid ones, each with
the command line that reads it.

Kinds: scene files of each format (cut, bit-flipped, padded, of the wrong kind, declaring more
points than fit), camera files, camera path files, sweep files, training datasets (NeRF-synthetic,
transforms.json and COLMAP binary and text: their JSON, images, points and sparse model) and
checkpoints; in the place of each, special files (a FIFO, /dev/zero, a folder) and a missing
one. A JSON file is damaged at each of its fields in turn (a seeded choice of hostile values)
and as a whole (cut, empty, not UTF-8, nested too deeply, of another type).

Every run must end with one `splatscope: error:` line naming the damaged file, exit code 2, no
traceback and no output written; a `may_load` case (a bit flip or a changed field can leave a
valid input) may also succeed. `run_cases` runs cases in one child process, with its address
space limited and an alarm per case (a hang is a failure, not a wait).

tests/test_bad_file_corpus.py runs a seeded subset in the suite; scripts/hostile_corpus.py runs
all of it and lists every run that breaks the promise.
"""

from __future__ import annotations

import copy
import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from plyfile import PlyData, PlyElement

ADDRESS_SPACE = 4 << 30  # the child's ulimit -v: torch and numpy need ~1.5 GiB of it
ALARM_SECONDS = 60  # per case: a hang, not a speed limit
SMALL = ("--width", "16", "--height", "16")  # images of the commands that render
KINDS = ("scene", "camera", "path", "sweep", "dataset", "checkpoint")


@dataclass(frozen=True)
class Case:
    """One damaged input and the command that reads it.

    Attributes:
        kind: one of KINDS.
        label: the case's name in reports (unique).
        argv: the splatscope command line.
        names: the damaged file's name as the error line must hold it (any one of them).
        out: an output the command must not create when it fails.
        may_load: whether the damage may leave a valid input (success is fine then).
    """

    kind: str
    label: str
    argv: tuple[str, ...]
    names: tuple[str, ...]
    out: str | None = None
    may_load: bool = False


# -- damage ---------------------------------------------------------------------------------------


def cuts(data: bytes) -> list[int]:
    """Lengths a file is cut to: nothing, a few bytes, a third, a half, all but one."""
    return sorted({0, 1, 5, 16, 33, len(data) // 3, len(data) // 2, max(len(data) - 1, 0)})


def flipped(data: bytes, rng: np.random.Generator, bits: int) -> bytes:
    """`data` with `bits` random bits flipped."""
    mutated = bytearray(data)
    for at in rng.integers(0, len(data), size=bits):
        mutated[at] ^= 1 << int(rng.integers(8))
    return bytes(mutated)


def nested(depth: int) -> str:
    """JSON text of lists nested `depth` deep."""
    return "[" * depth + "]" * depth


HOSTILE_VALUES: list[Any] = [
    0, -1, 0.5, 1e-300, 1e308, -1e308, math.inf, -math.inf, math.nan, 10**400, "x", "", [],
    [1], {}, None, True, False, [[[[[[]]]]]],
]  # fmt: skip


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Paths (keys and indices) of every node of a JSON value below the root."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):  # the first few items of a list
            yield (*path, index)
            yield from _leaves(item, (*path, index))


def _replaced(document: Any, path: tuple, value: Any) -> Any:
    """A copy of `document` with the node at `path` replaced by `value` (deleted: ...)."""
    out = copy.deepcopy(document)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def json_damage(document: Any, rng: np.random.Generator, per_field: int = 2) -> dict[str, str]:
    """Damaged texts of a JSON document, name -> text.

    Each field replaced by `per_field` hostile values (a seeded choice) or deleted; the whole
    file cut, empty, not UTF-8, nested too deeply, of another type.
    """
    text = json.dumps(document)
    out: dict[str, str] = {}
    for path in _leaves(document):
        where = ".".join(map(str, path))
        picks = rng.choice(len(HOSTILE_VALUES), size=per_field, replace=False)
        for pick in picks:
            value = HOSTILE_VALUES[int(pick)]
            label = "big-int" if isinstance(value, int) and value > 1e300 else json.dumps(value)
            out[f"{where}={label}"] = json.dumps(_replaced(document, path, value))
        out[f"{where}=deleted"] = json.dumps(_replaced(document, path, ...))
    for cut in (0, 1, len(text) // 2, len(text) - 1):
        out[f"cut{cut}"] = text[:cut]
    out["not-utf8"] = text[:10] + "\udcff" + text[10:]
    out["nested-900"] = nested(900)
    out["nested-100000"] = nested(100_000)
    for other in ("[]", '"text"', "5", "null", "[" + text + "]"):
        out[f"top-level-{other[:6]}"] = other
    return out


def write_text(path: Path, text: str) -> None:
    """Write `text` (lone surrogates as the bytes they stand for)."""
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


SPECIAL = ("fifo", "devzero", "folder", "missing")


def make_special(path: Path, kind: str) -> Path:
    """Put a special file of `kind` (SPECIAL) at `path`, replacing what is there; `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    elif os.path.lexists(path):
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    return path


def special_files(folder: Path, name: str) -> dict[str, Path]:
    """A FIFO, a link to /dev/zero, a folder and a missing file, each named `name` in its own
    sub-folder of `folder`; label -> path."""
    return {kind: make_special(folder / kind / name, kind) for kind in SPECIAL}


# -- scenes ---------------------------------------------------------------------------------------


def seed_scenes(folder: Path) -> dict[str, bytes]:
    """Small valid scene files of every readable kind, name -> bytes."""
    from tests.formats_helpers import spz_bytes, spz_v4_bytes, stored_scene, write_compressed_ply
    from viewer.formats import save_scene

    scene = stored_scene(200, 1, seed=11)
    names = ("seed.ply", "seed.splat", "seed.spz", "seed.compressed.ply", "seed.sog", "seed.glb")
    for name in names:
        save_scene(scene, folder / name)
    write_compressed_ply(scene, folder / "seed_supersplat.ply")
    files = {name: (folder / name).read_bytes() for name in (*names, "seed_supersplat.ply")}
    files["seed_v2.spz"] = spz_bytes(stored_scene(20, 1), version=2)
    files["seed_v3.spz"] = spz_bytes(stored_scene(20, 2), version=3)
    files["seed_v4.spz"] = spz_v4_bytes(stored_scene(20, 2))
    return files


def scene_cases(
    folder: Path, rng: np.random.Generator, commands: tuple[str, ...] = ("info",)
) -> list[Case]:
    """Damaged scene files, read by each of `commands` ("info", "render", "convert")."""
    from tests.formats_helpers import zeroed_spz

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[bytes, bool]] = {}
    for name, data in seed_scenes(folder).items():
        stem, suffix = name.split(".", 1)
        for cut in cuts(data):
            files[f"{stem}_cut{cut}.{suffix}"] = (data[:cut], False)
        for flip in range(4):
            files[f"{stem}_flip{flip}.{suffix}"] = (flipped(data, rng, 1 + flip * 3), True)
        files[f"{stem}_tail.{suffix}"] = (data + rng.bytes(77), True)
    for suffix in ("ply", "splat", "spz", "compressed.ply", "sog", "glb"):
        files[f"random.{suffix}"] = (rng.bytes(4096), False)
        files[f"text.{suffix}"] = (b"this is not a scene\n" * 40, False)
        files[f"empty.{suffix}"] = (b"", False)
    files["ply_header_only.ply"] = (b"ply\nformat binary_little_endian 1.0\nend_header\n", False)
    files["huge_count.ply"] = (
        b"ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\n"
        b"property float x\nproperty float y\nproperty float z\nend_header\n" + bytes(64),
        False,
    )
    files["zeros_40M.spz"] = (zeroed_spz(40_000_000), False)
    files |= {name: (data, False) for name, data in hostile_sog_and_glb().items()}
    paths: list[tuple[Path, bool]] = []
    for name, (data, may_load) in files.items():
        (folder / name).write_bytes(data)
        whole_records = name.endswith(".splat") and len(data) % 32 == 0  # .splat: no header
        paths.append((folder / name, may_load or (whole_records and len(data) > 0)))
    sparse = folder / "sparse_10M.ply"  # a header of 10M rows over a file of holes
    header = _inria_header(10_000_000)
    sparse.write_bytes(header)
    os.truncate(sparse, len(header) + 10_000_000 * 62 * 4)
    paths.append((sparse, False))
    records = folder / "sparse_24M.splat"  # 24M records of zeros, a file of holes
    records.write_bytes(b"")
    os.truncate(records, 24_000_000 * 32)
    paths.append((records, False))
    paths += [(path, False) for path in special_files(folder / "special", "scene.ply").values()]
    cases: list[Case] = []
    (folder / "out").mkdir()
    for command in commands:
        for path, may_load in paths:
            out = folder / "out" / f"{command}-{len(cases)}"  # no input's name in it
            argv: tuple[str, ...] = {
                "info": ("info", str(path)),
                "render": ("render", str(path), "--out", f"{out}.png", *SMALL),
                "convert": ("convert", str(path), f"{out}.splat"),
            }[command]
            written = None if command == "info" else argv[-1] if command == "convert" else argv[3]
            label = f"scene/{command}/{path.parent.name}/{path.name}"
            cases.append(Case("scene", label, argv, (path.name,), written, may_load))
    return cases


def hostile_sog_and_glb() -> dict[str, bytes]:
    """A ZIP bomb in a .sog, a meta.json count beyond its images, a .glb declaring 40M points."""
    import io
    import zipfile

    from tests.formats_helpers import stored_scene
    from viewer.formats.glb_write import glb_bytes
    from viewer.formats.sog_write import sog_files

    members = sog_files(stored_scene(100, 1))

    def bundle(replaced: dict[str, bytes]) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in (members | replaced).items():
                archive.writestr(name, data)
        return out.getvalue()

    meta = json.loads(members["meta.json"])
    meta["count"] = 16_000_000
    glb = bytearray(glb_bytes(stored_scene(10, 0)))
    text_length = struct.unpack_from("<I", glb, 12)[0]
    document = json.loads(glb[20 : 20 + text_length])
    for accessor in document["accessors"]:
        accessor["count"] = 40_000_000
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    rest = glb[20 + text_length :]
    huge = b"glTF" + struct.pack("<III", 2, 20 + len(text) + len(rest), len(text))
    return {
        "bomb.sog": bundle({"means_l.webp": bytes(200_000_000)}),
        "count_beyond_images.sog": bundle({"meta.json": json.dumps(meta).encode()}),
        "huge_count.glb": huge + struct.pack("<I", 0x4E4F534A) + text + rest,
    }


def _inria_header(count: int) -> bytes:
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(45)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    lines = [f"element vertex {count}", *(f"property float {n}" for n in names)]
    return ("ply\nformat binary_little_endian 1.0\n" + "\n".join(lines) + "\nend_header\n").encode()


# -- camera, path and sweep files ----------------------------------------------------------------

GOOD_CAMERA = {
    "width": 48, "height": 36, "fx": 24.0, "fy": 24.0, "cx": 24.0, "cy": 18.0,
    "world_to_camera": [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 3.0], [0, 0, 0, 1]],
}  # fmt: skip
GOOD_PATH = {"version": 1, "keyframes": [{"time": 0.0, "camera": GOOD_CAMERA},
                                         {"time": 1.0, "camera": GOOD_CAMERA}]}  # fmt: skip
GOOD_SWEEP = {"description": "two", "configs": {"a": {"sh_degree": 1}, "b": {"backend": "tiles"}}}
GOOD_INRIA = [{"id": 0, "img_name": "a", "width": 48, "height": 36, "position": [0, 0, -3.0],
               "rotation": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "fx": 24.0, "fy": 24.0}]  # fmt: skip


def json_cases(folder: Path, rng: np.random.Generator) -> list[Case]:
    """Damaged camera files (single and INRIA), camera paths and sweeps, with their commands."""
    bench = ("--frames", "2", "--warmup", "0", *SMALL, "--no-quality")
    kinds: list[tuple[str, str, Any, Callable[[str, str], tuple[str, ...]]]] = [
        ("camera", "camera.json", GOOD_CAMERA,
         lambda path, out: ("render", "--camera", path, "--out", out + ".png", *SMALL)),
        ("camera", "cameras.json", GOOD_INRIA,
         lambda path, out: ("render", "--camera", path, "--out", out + ".png", *SMALL)),
        ("path", "path.json", GOOD_PATH,
         lambda path, out: ("bench", "--path", path, "--out", out, *bench)),
        ("sweep", "sweep.json", GOOD_SWEEP,
         lambda path, out: ("bench", "--sweep", path, "--out", out, *bench)),
    ]  # fmt: skip
    cases: list[Case] = []
    (folder / "out").mkdir(parents=True)
    for kind, name, document, command in kinds:
        texts = json_damage(document, rng)
        damaged = {label: (folder / kind / name / label / name) for label in texts}
        for label, path in damaged.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, texts[label])
        for label, path in special_files(folder / kind / name / "special", name).items():
            damaged[label] = path
        for label, path in damaged.items():
            out = str(folder / "out" / f"{kind}-{len(cases)}")
            argv = command(str(path), out)
            written = argv[argv.index("--out") + 1]
            may_load = "=" in label  # a changed field may still be valid
            cases.append(Case(kind, f"{kind}/{name}/{label}", argv, (name,), written, may_load))
    return cases


# -- training datasets ----------------------------------------------------------------------------

IMAGE_SIZE = 16  # pixels: above the 11x11 window of the SSIM a training run measures
VIEWS = 3


def _poses() -> list[np.ndarray]:
    """Camera-to-world matrices (OpenGL axes) on a ring around the origin, looking at it."""
    poses = []
    for i in range(VIEWS):
        angle = 2 * math.pi * i / VIEWS
        eye = np.array([4 * math.cos(angle), 4 * math.sin(angle), 1.0])
        back = eye / np.linalg.norm(eye)  # OpenGL: the camera looks down -z
        right = np.cross([0.0, 0.0, 1.0], back)
        right /= np.linalg.norm(right)
        up = np.cross(back, right)
        pose = np.eye(4)
        pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, up, back, eye
        poses.append(pose)
    return poses


def _image(seed: int, size: int = IMAGE_SIZE) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


def _points(path: Path, xyz: np.ndarray | None = None) -> None:
    """points3d.ply as make-dataset writes it: x, y, z, normals, 8-bit colours."""
    xyz = np.random.default_rng(3).normal(size=(20, 3)) if xyz is None else xyz
    rows = np.zeros(len(xyz), dtype=[(n, "<f4") for n in ("x", "y", "z", "nx", "ny", "nz")]
                    + [(n, "u1") for n in ("red", "green", "blue")])  # fmt: skip
    for axis, name in enumerate("xyz"):
        rows[name] = xyz[:, axis]
    rows["red"] = 200
    PlyData([PlyElement.describe(rows, "vertex")]).write(str(path))


def nerf_dataset(root: Path, size: int = IMAGE_SIZE) -> dict:
    """A NeRF-synthetic folder of VIEWS images of `size` pixels square; its
    transforms_train.json document."""
    (root / "train").mkdir(parents=True)
    frames = []
    for i, pose in enumerate(_poses()):
        _image(i, size).save(root / "train" / f"r_{i}.png")
        frames.append({"file_path": f"./train/r_{i}", "transform_matrix": pose.tolist()})
    document = {"camera_angle_x": 0.69, "frames": frames}
    (root / "transforms_train.json").write_text(json.dumps(document))
    _points(root / "points3d.ply")
    return document


def transforms_dataset(root: Path) -> dict:
    """An instant-ngp style folder (one transforms.json with fl_x, w, ...); its document."""
    (root / "images").mkdir(parents=True)
    frames = []
    for i, pose in enumerate(_poses()):
        _image(i).save(root / "images" / f"r_{i}.png")
        frames.append({"file_path": f"images/r_{i}.png", "transform_matrix": pose.tolist()})
    document = {"fl_x": 9.0, "fl_y": 9.0, "cx": 4.0, "cy": 4.0, "w": IMAGE_SIZE, "h": IMAGE_SIZE,
                "k1": 0.0, "frames": frames}  # fmt: skip
    (root / "transforms.json").write_text(json.dumps(document))
    return document


def colmap_dataset(root: Path, binary: bool) -> None:
    """A COLMAP folder (images/, sparse/0) of VIEWS 8x8 images, binary or text."""
    from tests.train_helpers import write_colmap
    from viewer.camera import Camera

    cameras = []
    for i, pose in enumerate(_poses()):
        c2w = pose.copy()
        c2w[:3, 1:3] *= -1.0
        cameras.append(Camera(IMAGE_SIZE, IMAGE_SIZE, 9.0, 9.0, 4.0, 4.0,
                              world_to_camera=np.linalg.inv(c2w), name=f"r_{i}"))  # fmt: skip
    images = [np.asarray(_image(i)) for i in range(VIEWS)]
    points = (np.random.default_rng(3).normal(size=(20, 3)), np.full((20, 3), 200, np.uint8))
    write_colmap(root, cameras, images, points, binary=binary)


def png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose header declares width x height RGB pixels, with `idat` as its data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _ztxt_bomb() -> bytes:
    """A valid 8x8 PNG with a zTXt chunk inflating to 64 MiB."""
    import io

    buffer = io.BytesIO()
    _image(0).save(buffer, format="PNG")
    data = buffer.getvalue()
    body = b"Comment\0\0" + zlib.compress(bytes(64 << 20), 9)
    chunk = struct.pack(">I", len(body)) + b"zTXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"zTXt" + body))
    return data[:33] + chunk + data[33:]  # after the IHDR chunk


def image_damage(good: bytes) -> dict[str, tuple[bytes, bool]]:
    """Damaged images, label -> (bytes, may load)."""
    import io

    def encoded(image: Image.Image, kind: str = "PNG") -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format=kind)
        return buffer.getvalue()

    return {
        "bomb-30000x30000": (png_declaring(30000, 30000, zlib.compress(bytes(1000))), False),
        "bomb-ztxt": (_ztxt_bomb(), True),
        "declares-1e9x1": (png_declaring(1 << 30, 1), False),
        "truncated-half": (good[: len(good) // 2], False),
        "truncated-last": (good[:-13], True),  # no IEND chunk: PIL reads the pixels still
        "empty": (b"", False),
        "random": (np.random.default_rng(4).bytes(300), False),
        "text": (b"not an image\n", False),
        "other-size": (encoded(Image.new("RGB", (5, 7))), False),
        "16-bit-grey": (encoded(Image.new("I;16", (IMAGE_SIZE, IMAGE_SIZE))), True),
        "float": (encoded(Image.new("F", (IMAGE_SIZE, IMAGE_SIZE)), "TIFF"), True),
        "cmyk-jpeg": (encoded(Image.new("CMYK", (IMAGE_SIZE, IMAGE_SIZE)), "JPEG"), True),
        "palette-alpha": (encoded(Image.new("P", (IMAGE_SIZE, IMAGE_SIZE))), True),
    }


def points_damage(good: bytes) -> dict[str, tuple[bytes, bool]]:
    """Damaged points3d.ply files, label -> (bytes, may load)."""
    header_end = good.index(b"end_header\n") + len(b"end_header\n")
    header = good[:header_end].decode()
    many = header.replace("element vertex 20", "element vertex 100000000000").encode()
    rows = np.frombuffer(good[header_end:], np.uint8).copy()
    nan = bytearray(good)
    nan[header_end : header_end + 4] = struct.pack("<f", math.nan)
    inf = bytearray(good)
    inf[header_end + 4 : header_end + 8] = struct.pack("<f", math.inf)
    no_colour = header.replace("property uchar red\n", "").encode() + rows.tobytes()[:-20]
    bad_header = b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty\nend_header\n"
    ascii_ply = (
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
        b"property float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\n"
        b"end_header\n0 0 0 1 2 3\n"
    )
    return {
        "truncated": (good[: header_end + 30], False),
        "header-only": (good[:header_end], False),
        "bad-header": (bad_header + bytes(64), False),
        "not-ply": (b"hello\n" * 10, False),
        "empty": (b"", False),
        "rows-1e11": (many + bytes(64), False),
        "nan-point": (bytes(nan), False),
        "inf-point": (bytes(inf), False),
        "no-red": (no_colour, False),
        "ascii": (ascii_ply, True),
        "flipped": (flipped(good, np.random.default_rng(5), 6), True),
    }


def _colmap_camera_bin(width: int, height: int, params: tuple[float, ...], model: int = 1) -> bytes:
    data = struct.pack("<Q", VIEWS)
    for i in range(VIEWS):
        data += struct.pack("<iiQQ", i + 1, model, width, height) + struct.pack(
            f"<{len(params)}d", *params
        )
    return data


def colmap_damage(sparse: Path, binary: bool) -> dict[str, tuple[str, bytes, bool]]:
    """Damaged files of a COLMAP model, label -> (file name, bytes, may load)."""
    suffix = ".bin" if binary else ".txt"
    cameras = (sparse / f"cameras{suffix}").read_bytes()
    images = (sparse / f"images{suffix}").read_bytes()
    points = (sparse / f"points3D{suffix}").read_bytes()
    out: dict[str, tuple[str, bytes, bool]] = {}
    for name, data in ((f"cameras{suffix}", cameras), (f"images{suffix}", images),
                       (f"points3D{suffix}", points)):  # fmt: skip
        for cut in (0, 5, len(data) // 2, len(data) - 1):  # a text file cut at a line is valid
            out[f"{name}-cut{cut}"] = (name, data[:cut], not binary or name.startswith("points"))
        out[f"{name}-random"] = (name, np.random.default_rng(6).bytes(200), False)
    pinhole = (9.0, 9.0, 4.0, 4.0)
    if binary:
        for label, width, height, params in (
            ("width-0", 0, IMAGE_SIZE, pinhole), ("height-0", IMAGE_SIZE, 0, pinhole),
            ("width-2^63", 1 << 63, IMAGE_SIZE, pinhole), ("fx-0", 8, 8, (0.0, 9.0, 4.0, 4.0)),
            ("fx-nan", 8, 8, (math.nan, 9.0, 4.0, 4.0)), ("cx-inf", 8, 8, (9.0, 9.0, math.inf, 4)),
            ("fx-negative", 8, 8, (-9.0, -9.0, 4.0, 4.0)),
        ):  # fmt: skip
            out[f"cameras.bin-{label}"] = ("cameras.bin", _colmap_camera_bin(width, height, params),
                                           False)  # fmt: skip
        out["cameras.bin-model-99"] = ("cameras.bin", _colmap_camera_bin(8, 8, pinhole, 99), False)
        out["cameras.bin-count-2^60"] = ("cameras.bin", struct.pack("<Q", 1 << 60) + cameras[8:],
                                         False)  # fmt: skip
        first = 4  # images.bin: after the count, image id, then qw qx qy qz (doubles)
        zero_q = bytearray(images)
        zero_q[8 + first : 8 + first + 32] = bytes(32)
        out["images.bin-zero-quaternion"] = ("images.bin", bytes(zero_q), False)
        nan_t = bytearray(images)
        nan_t[8 + first + 32 : 8 + first + 40] = struct.pack("<d", math.nan)
        out["images.bin-nan-translation"] = ("images.bin", bytes(nan_t), False)
        nan_p = bytearray(points)
        nan_p[16:24] = struct.pack("<d", math.nan)  # the first point's x
        out["points3D.bin-nan-point"] = ("points3D.bin", bytes(nan_p), False)
    else:
        lines = cameras.decode().splitlines()
        for label, row in (
            ("width-0", "1 PINHOLE 0 8 9 9 4 4"), ("height-neg", "1 PINHOLE 8 -8 9 9 4 4"),
            ("width-huge", "1 PINHOLE 99999999999999999999 8 9 9 4 4"),
            ("fx-nan", "1 PINHOLE 8 8 nan 9 4 4"), ("fx-0", "1 PINHOLE 8 8 0 9 4 4"),
            ("model-unknown", "1 FANCY 8 8 9 9 4 4"), ("few-params", "1 PINHOLE 8 8 9"),
        ):  # fmt: skip
            text = "\n".join([lines[0], row, *lines[2:]]) + "\n"
            out[f"cameras.txt-{label}"] = ("cameras.txt", text.encode(), False)
        rows = images.decode().splitlines()
        words = rows[1].split()
        for label, value in (("zero-quaternion", ["0", "0", "0", "0"]), ("nan-q", ["nan"] * 4)):
            row = " ".join([words[0], *value, *words[5:]])
            text = "\n".join([rows[0], row, *rows[2:]]) + "\n"
            out[f"images.txt-{label}"] = ("images.txt", text.encode(), False)
        name_row = " ".join([*words[:9], "../../../../../../etc/passwd"])
        text = "\n".join([rows[0], name_row, *rows[2:]]) + "\n"
        out["images.txt-escaping-name"] = ("images.txt", text.encode(), False)
        point_rows = points.decode().splitlines()
        pwords = point_rows[1].split()
        text = "\n".join([point_rows[0], " ".join([pwords[0], "nan", *pwords[2:]]),
                          *point_rows[2:]]) + "\n"  # fmt: skip
        out["points3D.txt-nan-point"] = ("points3D.txt", text.encode(), False)
    return out


# Explicit damage of the fields a NeRF or instant-ngp file gives the cameras (#23 item 10):
# (field, label, value); file_path and transform_matrix are frame 0's.
TRANSFORMS_DAMAGE: list[tuple[str, str, Any]] = [
    ("camera_angle_x", "0", 0), ("camera_angle_x", "inf", math.inf),
    ("camera_angle_x", "nan", math.nan), ("camera_angle_x", "pi", math.pi),
    ("camera_angle_x", "-1", -1), ("camera_angle_x", "4", 4),
    ("camera_angle_x", "string", "wide"), ("camera_angle_x", "list", [0.7]),
    ("camera_angle_x", "null", None), ("camera_angle_x", "true", True),
    ("camera_angle_x", "1e-300", 1e-300),
    ("fl_x", "string", "9"), ("fl_x", "list", [9]), ("fl_x", "0", 0), ("fl_x", "-9", -9),
    ("fl_x", "inf", math.inf), ("fl_x", "true", True), ("fl_x", "object", {}),
    ("fl_y", "1e-300", 1e-300),
    ("w", "1e-300", 1e-300), ("w", "0", 0), ("w", "-8", -8), ("w", "string", "8"),
    ("w", "8.5", 8.5), ("w", "list", [8]), ("w", "1e300", 1e300), ("w", "big-int", 10**400),
    ("h", "0", 0), ("h", "string", "8"), ("h", "other-aspect", 3),
    ("k1", "string", "0"), ("k1", "list", [0.1]), ("k1", "0.1", 0.1), ("k1", "nan", math.nan),
    ("cx", "string", "4"), ("cx", "nan", math.nan), ("cx", "1e300", 1e300),
    ("frames", "object", {}), ("frames", "empty", []), ("frames", "numbers", [1, 2]),
    ("frames", "deep", "nested-900"),
    ("file_path", "number", 5), ("file_path", "missing", "gone"),
    ("file_path", "/dev/zero", "/dev/zero"), ("file_path", "folder", "."),
    ("transform_matrix", "string", "eye"), ("transform_matrix", "nan", [[math.nan] * 4] * 4),
    ("transform_matrix", "scaled", (np.eye(4) * 2).tolist()),
    ("transform_matrix", "deep", "nested-500"),
    ("transform_matrix", "big-int", [[10**400] * 4] * 4),
]  # fmt: skip
TOP_LEVEL_ONLY = ("fl_x", "fl_y", "w", "h", "k1", "cx")  # a NeRF-synthetic file has none of them


def transforms_damaged(document: dict, field: str, value: Any) -> dict:
    """`document` with `field` (frame 0's for a frame field) set to `value`."""
    if isinstance(value, str) and value.startswith("nested-"):
        value = json.loads(nested(int(value.split("-")[1])))
    if field in ("file_path", "transform_matrix"):
        first = {**document["frames"][0], field: value}
        return {**document, "frames": [first, *document["frames"][1:]]}
    return {**document, field: value}


def dataset_cases(folder: Path, rng: np.random.Generator, full: bool = False) -> list[Case]:
    """Damaged training datasets, each a folder of its own; `train DATA --out OUT`.

    The explicit damage of #23 item 10 always; with `full`, every field of each JSON file with
    the generic hostile values too.
    """
    cases: list[Case] = []
    train = ("--iterations", "1", "--save-every", "0", "--init-count", "200")

    def case(root: Path, label: str, names: tuple[str, ...], may_load: bool = False) -> None:
        out = str(folder / "out" / f"{len(cases)}")
        argv = ("train", str(root), "--out", out, *train)
        cases.append(Case("dataset", f"dataset/{label}", argv, names, out, may_load))

    def fresh(kind: str, label: str) -> tuple[Path, Any]:
        root = folder / kind / label.replace("/", "_")
        if root.exists():  # the base, made once
            return root, None
        if kind == "nerf":
            return root, nerf_dataset(root)
        if kind == "transforms":
            return root, transforms_dataset(root)
        colmap_dataset(root, binary=kind == "colmap-bin")
        return root, None

    # images smaller than the SSIM window of the training loss
    nerf_dataset(folder / "nerf-8x8", size=8)
    case(folder / "nerf-8x8", "nerf-8x8/train/r_0.png/8x8", ("png: is 8x8 pixels",))
    # the JSON files
    for kind, name in (("nerf", "transforms_train.json"), ("transforms", "transforms.json")):
        base_root = folder / kind / "base"
        document = (nerf_dataset if kind == "nerf" else transforms_dataset)(base_root)
        damaged: dict[str, tuple[str, bool]] = {}
        for field, label, value in TRANSFORMS_DAMAGE:
            if kind == "nerf" and field in TOP_LEVEL_ONLY:
                continue
            damaged[f"{field}={label}"] = (json.dumps(transforms_damaged(document, field, value)),
                                           False)  # fmt: skip
        if full:
            damaged.update({k: (v, True) for k, v in json_damage(document, rng).items()})
        for label, (text, may_load) in damaged.items():
            root, _ = fresh(kind, label)
            write_text(root / name, text)
            # fl_x is given: an angle in (0, pi) or none is not used
            unused = kind == "transforms" and label in (
                "camera_angle_x=null",
                "camera_angle_x=1e-300",
            )
            names = (name, "/dev/zero") if label == "file_path=/dev/zero" else (name,)
            case(root, f"{kind}/{name}/{label}", names, may_load or unused)
        for label in SPECIAL[:3]:  # a missing file makes no dataset: that error names the folder
            root, _ = fresh(kind, f"special-{label}")
            make_special(root / name, label)
            case(root, f"{kind}/{name}/{label}", (name,))
    # the images
    for kind, image in (("nerf", "train/r_0.png"), ("colmap-bin", "images/r_0.png")):
        root, _ = fresh(kind, "base")
        good = (root / image).read_bytes()
        for label, (data, may_load) in image_damage(good).items():
            root, _ = fresh(kind, f"image-{label}")
            (root / image).write_bytes(data)
            case(root, f"{kind}/{image}/{label}", ("r_0.png",), may_load)
        for label in SPECIAL:
            root, _ = fresh(kind, f"image-special-{label}")
            make_special(root / image, label)
            case(root, f"{kind}/{image}/{label}", ("r_0",))
    # the points
    good = (folder / "nerf" / "base" / "points3d.ply").read_bytes()
    for label, (data, may_load) in points_damage(good).items():
        root, _ = fresh("nerf", f"points-{label}")
        (root / "points3d.ply").write_bytes(data)
        case(root, f"nerf/points3d.ply/{label}", ("points3d.ply",), may_load)
    for label in SPECIAL[:3]:  # without points3d.ply a dataset starts from random points
        root, _ = fresh("nerf", f"points-special-{label}")
        make_special(root / "points3d.ply", label)
        case(root, f"nerf/points3d.ply/{label}", ("points3d.ply",))
    # the COLMAP model
    for kind in ("colmap-bin", "colmap-txt"):
        base, _ = fresh(kind, "base")
        damage = colmap_damage(base / "sparse" / "0", kind == "colmap-bin")
        for label, (name, data, may_load) in damage.items():
            root, _ = fresh(kind, label)
            (root / "sparse" / "0" / name).write_bytes(data)
            names = ("passwd",) if "escaping" in label else (name,)
            case(root, f"{kind}/{label}", names, may_load)
        suffix = ".bin" if kind == "colmap-bin" else ".txt"
        for name in (f"cameras{suffix}", f"images{suffix}", f"points3D{suffix}"):
            for label in SPECIAL[:3]:
                root, _ = fresh(kind, f"{name}-special-{label}")
                make_special(root / "sparse" / "0" / name, label)
                case(root, f"{kind}/{name}/{label}", (name,))
    return cases


def checkpoint_cases(folder: Path, rng: np.random.Generator) -> list[Case]:
    """Damaged checkpoints for `train DATA --resume FILE` (DATA a good dataset)."""
    import torch

    from viewer.train.model import GaussianModel, LearningRates, initial_parameters

    data = folder / "data"
    nerf_dataset(data)
    xyz = np.random.default_rng(3).normal(size=(20, 3))
    model = GaussianModel(initial_parameters(xyz, np.full((20, 3), 200), 1), 1.0, LearningRates())
    state = {"version": 1, "step": 1, "model": model.state_dict(), "near_plane": 0.2,
             "generator": torch.Generator().get_state(), "settings": {}}  # fmt: skip

    def saved(value: Any) -> bytes:
        path = folder / "saved.pth"
        torch.save(value, path)
        return path.read_bytes()

    blob = saved(state)
    files: dict[str, bytes] = {f"cut{cut}": blob[:cut] for cut in cuts(blob)}
    files.update({f"flip{i}": flipped(blob, rng, 1 + 3 * i) for i in range(3)})
    files["random"] = rng.bytes(500)
    files["pickle"] = b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x01x\x94."
    files["other-dict"] = saved({"weights": [1, 2, 3]})
    params = state["model"]["params"]

    def with_param(name: str, value: Any) -> dict:
        return {"model": {**state["model"], "params": {**params, name: value}}}

    for label, change in (
        ("step-negative", {"step": -1}), ("step-string", {"step": "1"}),
        ("near-plane-nan", {"near_plane": math.nan}), ("generator-missing", {"generator": None}),
        ("model-list", {"model": [1]}),
        ("params-short", with_param("quats", params["quats"][:3])),
        ("params-nan", with_param("means", params["means"] * math.nan)),
        ("params-int", with_param("sh0", params["sh0"].long())),
        ("optimizers-empty", {"model": {**state["model"], "optimizers": {}}}),
    ):  # fmt: skip
        files[label] = saved({**state, **change})
    paths = {}
    for label, blob_ in files.items():
        path = folder / label / "chkpnt.pth"
        path.parent.mkdir(parents=True)
        path.write_bytes(blob_)
        paths[label] = path
    paths.update(special_files(folder / "special", "chkpnt.pth"))
    cases = []
    for label, path in paths.items():
        out = str(folder / "out" / label)
        argv = (
            "train",
            str(data),
            "--resume",
            str(path),
            "--out",
            out,
            "--iterations",
            "2",
            "--save-every",
            "0",
        )
        may_load = label.startswith("flip")  # a flip in a tensor's bytes leaves a checkpoint
        cases.append(Case("checkpoint", f"checkpoint/{label}", argv, ("chkpnt.pth",), out,
                          may_load))  # fmt: skip
    good = folder / "good" / "chkpnt.pth"
    good.parent.mkdir()
    good.write_bytes(blob)
    out = str(folder / "out" / "good")
    argv = ("train", str(data), "--resume", str(good), "--out", out, "--iterations", "2")
    cases.append(Case("checkpoint", "checkpoint/good", argv, ("chkpnt.pth",), out, True))
    return cases


def all_cases(folder: Path, seed: int = 2026, full: bool = True) -> list[Case]:
    """Every case of every kind, written under `folder` (`full`: every command and field)."""
    rng = np.random.default_rng(seed)
    commands = ("info", "render", "convert") if full else ("info",)
    return [
        *scene_cases(folder / "scenes", rng, commands),
        *json_cases(folder / "json", rng),
        *dataset_cases(folder / "datasets", rng, full),
        *checkpoint_cases(folder / "checkpoints", rng),
    ]


# -- running --------------------------------------------------------------------------------------

DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, resource, signal, sys, time
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, resource.RLIM_INFINITY))

    def hung(*_):
        raise TimeoutError("hung")

    signal.signal(signal.SIGALRM, hung)
    from viewer.cli import main

    for line in sys.stdin:
        argv = json.loads(line)
        err = io.StringIO()
        start = time.monotonic()
        signal.alarm({alarm})
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
        except BaseException as exc:  # what a user would see as a traceback
            code = f"raised {{type(exc).__name__}}: {{exc}}"
        finally:
            signal.alarm(0)
        print(json.dumps([code, err.getvalue(), time.monotonic() - start]), flush=True)
    """
)


def run_cases(
    cases: list[Case], env: dict[str, str] | None = None, limit: int = ADDRESS_SPACE
) -> list[tuple[Any, str, float]]:
    """(exit code or 'raised ...', stderr, seconds) of each case, run in one child process."""
    driver = DRIVER.format(limit=limit, alarm=ALARM_SECONDS)
    env = {**os.environ, "EGL_PLATFORM": "surfaceless", "OMP_NUM_THREADS": "1", **(env or {})}
    lines = "".join(json.dumps(list(case.argv)) + "\n" for case in cases)
    done = subprocess.run(
        [sys.executable, "-c", driver], input=lines, capture_output=True, text=True,
        timeout=len(cases) * ALARM_SECONDS + 60, env=env,
    )  # fmt: skip
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    if len(results) != len(cases):  # the child died: report the case it died in
        results.append([f"child died: exit {done.returncode}", done.stderr[-2000:], 0.0])
        results += [["not run", "", 0.0]] * (len(cases) - len(results))
    return [(code, err, seconds) for code, err, seconds in results]


def problem(case: Case, code: Any, stderr: str) -> str | None:
    """What is wrong with a run of `case`, or None when it kept the promise."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if "Traceback" in stderr:
        return "traceback"
    if code == 0:
        if not case.may_load:
            return "succeeded"
        if not all(line.startswith(("splatscope: warning:", "splatscope: note:")) or
                   not line.startswith("splatscope:") for line in lines):  # fmt: skip
            return "succeeded with an error line"
        return None
    if code != 2:
        return f"exit {code}"
    if len(lines) != 1 or not lines[0].startswith("splatscope: error: "):
        return f"{len(lines)} lines"
    if not any(name in lines[0] for name in case.names):
        return f"the error line does not name {' or '.join(case.names)}"
    if case.out is not None and os.path.lexists(case.out):
        return "wrote its output"
    return None
