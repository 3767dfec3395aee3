"""PlayCanvas SOG v2: round trips within the format's quantisation, the decoding rules checked on
a scene encoded by hand here, the layout the writer produces, and hostile scenes (bundled and
unbundled) refused with a SceneError."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.formats_helpers import stored_scene
from viewer.errors import SceneError
from viewer.formats import describe_losses, load_scene, save_scene
from viewer.formats.compressed_ply_write import morton_order
from viewer.formats.kmeans import codebook_1d, palette
from viewer.formats.sog_write import grid_size, sog_files


def webp(pixels: np.ndarray) -> bytes:
    """Lossless WebP of [H, W, C] uint8 pixels, written here with Pillow directly."""
    out = io.BytesIO()
    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
    Image.fromarray(pixels, mode=mode).save(out, format="WEBP", lossless=True, exact=True)
    return out.getvalue()


def bundle(files: dict[str, bytes]) -> bytes:
    """A ZIP of `files` at its root."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def with_meta(files: dict[str, bytes], **changes: object) -> dict[str, bytes]:
    """`files` with top-level fields of meta.json replaced (None removes one)."""
    meta = json.loads(files["meta.json"])
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return files | {"meta.json": json.dumps(meta).encode()}


def nearest_entry(codebook: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The codebook entry nearest to each value (brute force)."""
    return codebook[np.abs(values[..., None] - codebook).argmin(axis=-1)]


@pytest.mark.parametrize("degree", [0, 1, 3])
@pytest.mark.parametrize("name", ["scene.sog", "folder/meta.json"])
def test_round_trip_within_quantisation(tmp_path: Path, degree: int, name: str) -> None:
    scene = stored_scene(700, degree)
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    save_scene(scene, path)
    loaded = load_scene(path)
    assert loaded.count == 700 and loaded.sh_degree == degree
    assert loaded.file_format.startswith("PlayCanvas SOG v2")
    source = scene.subset(morton_order(scene.means))  # the order the writer stores
    meta = json.loads(sog_files(scene)["meta.json"])
    logs = np.sign(source.means) * np.log1p(np.abs(source.means))
    steps = (np.array(meta["means"]["maxs"]) - meta["means"]["mins"]) / 65535
    assert np.all(np.abs(np.log1p(np.abs(loaded.means)) * np.sign(loaded.means) - logs) <= steps)
    unit = source.rotations / np.linalg.norm(source.rotations, axis=1, keepdims=True)
    assert np.abs(np.sum(unit * loaded.rotations, axis=1)).min() > np.cos(np.radians(1.0) / 2)
    np.testing.assert_allclose(loaded.opacities, source.opacities, atol=0.5 / 255 + 1e-6)
    scales = np.array(meta["scales"]["codebook"], dtype=np.float32)
    np.testing.assert_allclose(
        np.log(loaded.scales), nearest_entry(scales, source.stored_log_scales()), atol=1e-5
    )
    dc = np.array(meta["sh0"]["codebook"], dtype=np.float32)
    np.testing.assert_array_equal(loaded.sh[:, 0], nearest_entry(dc, source.sh[:, 0]))
    if degree:  # 700 Gaussians: one palette entry each, so only the codebook is lossy
        values = np.array(meta["shN"]["codebook"], dtype=np.float32)
        np.testing.assert_array_equal(loaded.sh[:, 1:], nearest_entry(values, source.sh[:, 1:]))
        assert meta["shN"]["count"] == 700 and meta["shN"]["bands"] == degree


def test_a_folder_holding_meta_json_loads(tmp_path: Path) -> None:
    save_scene(stored_scene(50, 1), tmp_path / "meta.json")
    assert load_scene(tmp_path).count == 50


def test_layout(tmp_path: Path) -> None:
    scene = stored_scene(1000, 2)
    save_scene(scene, tmp_path / "scene.sog")
    with zipfile.ZipFile(tmp_path / "scene.sog") as archive:
        names = set(archive.namelist())
        meta = json.loads(archive.read("meta.json"))
        image = Image.open(io.BytesIO(archive.read("means_l.webp")))
        centroids = Image.open(io.BytesIO(archive.read("shN_centroids.webp")))
    assert names == {
        "meta.json", "means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp",
        "shN_centroids.webp", "shN_labels.webp",
    }  # fmt: skip
    assert meta["version"] == 2 and meta["count"] == 1000
    assert meta["means"]["files"] == ["means_l.webp", "means_u.webp"]
    assert meta["shN"]["files"] == ["shN_centroids.webp", "shN_labels.webp"]
    assert len(meta["scales"]["codebook"]) == len(meta["sh0"]["codebook"]) == 256
    assert image.format == "WEBP" and image.size == grid_size(1000) == (32, 32)
    assert centroids.size == (64 * 8, 16)  # 1000 entries, 64 a row, 8 coefficients each


def test_grid_size_follows_splat_transform() -> None:
    assert grid_size(0) == (4, 4)
    assert grid_size(1_000_000) == (1000, 1000)
    width, height = grid_size(45_624)
    assert width % 4 == 0 and height % 4 == 0 and width * height >= 45_624


def test_decoding_rules_on_a_hand_made_scene(tmp_path: Path) -> None:
    """Two Gaussians encoded here by the spec's formulas, in 4 x 4 images (trailing pixels)."""
    grid = np.zeros((16, 4), dtype=np.uint8)
    means_l, means_u, quats, scales, sh0 = (grid.copy() for _ in range(5))
    q = np.array([[0, 32768, 65535], [65535, 0, 12345]])
    means_l[:2, :3], means_u[:2, :3] = q & 0xFF, q >> 8
    quats[:2] = [[255, 0, 128, 252], [128, 128, 128, 255]]  # largest w, then largest z
    scales[:2, :3] = [[0, 1, 2], [3, 3, 3]]
    sh0[:2] = [[1, 2, 3, 0], [0, 0, 0, 255]]
    images = {
        name: webp(pixels.reshape(4, 4, 4))
        for name, pixels in (
            ("l.webp", means_l), ("u.webp", means_u), ("q.webp", quats),
            ("s.webp", scales), ("c.webp", sh0),
        )
    }  # fmt: skip
    meta = {
        "version": 2,
        "count": 2,
        "means": {"mins": [-1.0, 0.0, 2.0], "maxs": [1.0, 2.0, 3.0], "files": ["l.webp", "u.webp"]},
        "scales": {"codebook": [-4.0, -3.0, -2.0, -1.0], "files": ["s.webp"]},
        "quats": {"files": ["q.webp"]},
        "sh0": {"codebook": [0.0, 0.5, 1.0, 1.5], "files": ["c.webp"]},
        "unknown": "ignored",
    }
    (tmp_path / "hand.sog").write_bytes(bundle(images | {"meta.json": json.dumps(meta).encode()}))
    scene = load_scene(tmp_path / "hand.sog")
    n = np.array([-1.0, 0.0, 2.0]) + (np.array([2.0, 2.0, 1.0]) * q / 65535)
    expected = np.sign(n) * (np.exp(np.abs(n)) - 1)
    np.testing.assert_allclose(scene.means, expected, rtol=1e-6)
    a = (np.array([255, 0, 128]) / 255 - 0.5) * 2 / np.sqrt(2)
    first = np.array([np.sqrt(max(0, 1 - (a**2).sum())), *a])  # (w, x, y, z), w omitted
    b = (128 / 255 - 0.5) * 2 / np.sqrt(2)
    second = np.array([b, b, b, np.sqrt(1 - 3 * b * b)])  # mode 3: z is the omitted one
    expected_q = np.array([first, second]) / np.linalg.norm([first, second], axis=1)[:, None]
    np.testing.assert_allclose(scene.rotations, expected_q, atol=1e-6)  # normalised on load
    np.testing.assert_allclose(np.log(scene.scales), [[-4, -3, -2], [-1, -1, -1]], atol=1e-6)
    np.testing.assert_allclose(scene.sh[:, 0], [[0.5, 1.0, 1.5], [0, 0, 0]])
    np.testing.assert_allclose(scene.opacities, [0.0, 1.0])


def test_losses_are_described() -> None:
    lines = describe_losses(stored_scene(100, 3), "out.sog")
    assert lines[0] == "Gaussians reordered along a Morton curve of their centres"
    assert any("16 bits per axis of a log-transformed range" in line for line in lines)
    assert any("nearest of 100 palette entries" in line for line in lines)
    assert describe_losses(stored_scene(100, 0), "a/meta.json") == lines[:5]


def test_kmeans_palette_and_codebook() -> None:
    rng = np.random.default_rng(3)
    points = rng.normal(size=(5000, 9)).astype(np.float32)
    centroids, labels = palette(points, 300, iterations=4)
    assert centroids.shape[0] <= 300 and labels.shape == (5000,) and labels.max() < len(centroids)
    direct = ((points[:, None] - centroids[None]) ** 2).sum(-1)
    assert np.mean(direct[np.arange(5000), labels]) < np.mean(direct.min(axis=1)) * 1.5
    np.testing.assert_array_equal(codebook_1d(np.array([3.0, 1.0, 3.0]), 4), [1, 3, 3, 3])
    book = codebook_1d(rng.normal(size=100_000), 256)
    assert np.all(np.diff(book) >= 0) and book.shape == (256,)


# -- hostile scenes ---------------------------------------------------------------------------


@pytest.fixture
def files() -> dict[str, bytes]:
    """The files of a valid 200-Gaussian SH-1 scene."""
    return sog_files(stored_scene(200, 1))


def refused(tmp_path: Path, data: bytes, match: str) -> None:
    (tmp_path / "bad.sog").write_bytes(data)
    with pytest.raises(SceneError, match=match) as error:
        load_scene(tmp_path / "bad.sog")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"version": 3}, r"unsupported SOG version 3 \(readable: 2\)"),
        ({"version": None}, r"unsupported SOG version none \(SOG v1\)"),
        ({"count": 5000}, "fewer pixels than the 5,000 Gaussians"),
        ({"count": -1}, "count is -1"),
        (
            {"means": {"mins": [0, 0], "maxs": [1, 1, 1], "files": ["a.webp", "b.webp"]}},
            "means.mins is not a list",
        ),
        ({"quats": {"files": ["../quats.webp"]}}, "leaves the scene's folder"),
        ({"quats": {"files": ["/etc/passwd"]}}, "leaves the scene's folder"),
        ({"quats": {"files": ["a\nb.webp"]}}, r"names a file 'a\\nb.webp', not a file name"),
        ({"quats": {"files": ["sh0.webp", "x"]}}, "quats.files is not a list of 1 names"),
        ({"scales": {"codebook": [1.0, float("nan")], "files": ["scales.webp"]}}, "finite"),
        ({"scales": {"codebook": [1.0], "files": ["scales.webp"]}}, "past the 1-entry codebook"),
    ],
)
def test_bad_meta_fields(tmp_path: Path, files: dict[str, bytes], change, match) -> None:
    refused(tmp_path, bundle(with_meta(files, **change)), match)


def test_bad_json_and_missing_members(tmp_path: Path, files: dict[str, bytes]) -> None:
    refused(tmp_path, bundle(files | {"meta.json": b"{not json"}), "meta.json is not JSON")
    refused(tmp_path, bundle(files | {"meta.json": b"[1, 2]"}), "not a JSON object")
    refused(tmp_path, bundle(files | {"meta.json": b'{"a": "\xff"}'}), "not UTF-8")
    del files["quats.webp"]
    refused(tmp_path, bundle(files), "the bundle has no member 'quats.webp'")


def test_wrong_images(tmp_path: Path, files: dict[str, bytes]) -> None:
    small = webp(np.zeros((4, 4, 4), np.uint8))
    refused(
        tmp_path,
        bundle(files | {"quats.webp": small}),
        r"bad.sog: image 'quats.webp' is 4x4: fewer",
    )
    wide = webp(np.zeros((16, 20, 4), np.uint8))  # enough pixels, but not the size of the others
    refused(tmp_path, bundle(files | {"sh0.webp": wide}), "the other images are 16x16")
    refused(tmp_path, bundle(files | {"sh0.webp": b"RIFF0000WEBPjunk"}), "cannot be decoded")
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 16)).save(jpeg, format="JPEG")
    refused(tmp_path, bundle(files | {"sh0.webp": jpeg.getvalue()}), "is JPEG, not WebP or PNG")
    narrow = webp(np.zeros((4, 64, 3), np.uint8))
    refused(tmp_path, bundle(files | {"shN_centroids.webp": narrow}), "not 192 wide")


def test_values_outside_their_tables(tmp_path: Path, files: dict[str, bytes]) -> None:
    quats = np.asarray(Image.open(io.BytesIO(files["quats.webp"]))).copy()
    quats[0, 0, 3] = 7
    refused(tmp_path, bundle(files | {"quats.webp": webp(quats)}), "quats alpha 7 is not 252..255")
    meta = json.loads(files["meta.json"])
    meta["shN"]["count"] = 3
    labels_past = files | {"meta.json": json.dumps(meta).encode()}
    refused(tmp_path, bundle(labels_past), "shN label .* past the 3 palette entries")


def test_zip_bombs_and_broken_archives(tmp_path: Path, files: dict[str, bytes]) -> None:
    bomb = bundle(files | {"means_l.webp": bytes(50_000_000)})  # 50 MB of zeros, ~50 kB zipped
    assert len(bomb) < 200_000
    refused(tmp_path, bomb, r"50,000,000 bytes from .* compressed: too large")
    whole = bundle(files)
    refused(tmp_path, whole[: len(whole) // 2], "not a readable ZIP file")
    damaged = bytearray(whole)
    at = whole.index(b"WEBP") + 40  # inside the first image's data
    damaged[at] ^= 0xFF
    refused(tmp_path, bytes(damaged), "cannot be read|cannot be decoded")


def test_unbundled_names_stay_in_the_folder(tmp_path: Path, files: dict[str, bytes]) -> None:
    folder = tmp_path / "scene"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (tmp_path / "outside.webp").write_bytes(files["quats.webp"])
    (folder / "link.webp").symlink_to(tmp_path / "outside.webp")
    for name, match in [("../outside.webp", "leaves the scene's folder"), ("link.webp", "a link")]:
        (folder / "meta.json").write_bytes(with_meta(files, quats={"files": [name]})["meta.json"])
        with pytest.raises(SceneError, match=match):
            load_scene(folder / "meta.json")
    (folder / "meta.json").write_bytes(files["meta.json"])
    (folder / "scales.webp").unlink()
    with pytest.raises(SceneError, match="no such file"):
        load_scene(folder)


def test_splat_transforms_model_field_marks_antialiasing(files: dict[str, bytes]) -> None:
    from viewer.formats.sog_meta import parse_meta

    meta = json.loads(files["meta.json"])
    meta.pop("antialias")
    assert not parse_meta(Path("meta.json"), meta).antialias
    assert parse_meta(Path("meta.json"), meta | {"model": "antialiased"}).antialias
