"""Write a large synthetic city as a streamed SOG, one region at a time (never the whole scene).

Usage: python scripts/make_streamed_scene.py OUT/lod-meta.json [--count 20000000] [--seed 0]
           [--sh-degree 1] [--levels auto] [--extent 1000]

The city (world z up, `extent` units square, centred on the origin): hilly ground that rises
towards the edges, a river across it, a grid of streets with lane marks, blocks of buildings
whose height falls off from the centre (towers downtown, low houses and parks outside) with
lit and dark windows, and trees in the parks. Every Gaussian is a small disc on a surface;
building colours follow the district (the angle around the centre), so an orbit can tell
where it is. The ground is cut into a grid of tiles of at most one spatial leaf each (65,536
Gaussians); each tile's layout and Gaussians come from its own seed ([seed, i, j]), so a tile
is made on its own when the writer comes to it and no array of all the centres ever exists.
The tiles' binary tree (split on the longer side) is lod-meta.json's tree
(lod_stream_write.write_streamed_tree).
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.features.lod_stream_write import Region, StreamLayout, write_streamed_tree
from viewer.formats.sog_meta import LOD_META_NAME
from viewer.scene import GaussianScene

C0 = 0.28209479177387814
COARSEST = 100_000  # the automatic --levels: the coarsest level holds at most about this many
BLOCKS_ACROSS = 33  # city blocks (street pitch) across the extent, about
STORY = 3.5  # units per floor (windows)
BAY = 3.0  # units per window column


def smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    """0 below lo, 1 above hi, a smooth ramp between."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def hsv(h: np.ndarray, s: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """[N, 3] RGB of hue (turns), saturation and value."""
    h = np.asarray(h, np.float64)
    s, v = np.broadcast_to(s, h.shape), np.broadcast_to(v, h.shape)
    k = (np.array([5.0, 3.0, 1.0]) + 6.0 * h[:, None]) % 6.0
    return v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def auto_levels(count: int, ratio: float = StreamLayout().ratio) -> int:
    """LOD levels so that the coarsest holds at most about COARSEST (at least the default's)."""
    needed = 1 + max(0, math.ceil(math.log(max(count, 1) / COARSEST, ratio)))
    return max(StreamLayout().levels, needed)


@dataclass(frozen=True)
class City:
    """The city's layout: the tile grid and the functions of position all tiles share."""

    count: int
    seed: int = 0
    sh_degree: int = 1
    extent: float = 1000.0
    leaf_size: int = StreamLayout().leaf_size

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.sh_degree <= 3 or self.extent <= 0:
            raise ValueError("count >= 1, sh_degree 0..3 and extent > 0, please")

    @property
    def tiles(self) -> tuple[int, int]:
        """(nx, ny) tiles: the fewest near-square grid whose tiles hold <= leaf_size each."""
        needed = -(-self.count // self.leaf_size)
        nx = math.ceil(math.sqrt(needed))
        ny = -(-needed // nx)
        return nx, ny

    def tile_count(self, i: int, j: int) -> int:
        """Gaussians of tile (i, j): the count shared out evenly (the first ones one more)."""
        nx, ny = self.tiles
        base, extra = divmod(self.count, nx * ny)
        return base + (j * nx + i < extra)

    def tile_box(self, i: int, j: int) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of tile (i, j)."""
        nx, ny = self.tiles
        x0, y0 = -self.extent / 2, -self.extent / 2
        w, h = self.extent / nx, self.extent / ny
        return x0 + i * w, y0 + j * h, x0 + (i + 1) * w, y0 + (j + 1) * h

    def blocks(self) -> tuple[int, int]:
        """City blocks per tile along x and y (the street grid is aligned with the tiles)."""
        nx, ny = self.tiles
        pitch = self.extent / BLOCKS_ACROSS
        return max(1, round(self.extent / nx / pitch)), max(1, round(self.extent / ny / pitch))

    def regions(self, make: Callable[[int, int], GaussianScene] | None = None) -> Region:
        """The tiles' binary tree (split on the longer side); a leaf makes its tile on demand."""
        made = make or self.tile
        nx, ny = self.tiles

        def node(i0: int, i1: int, j0: int, j1: int) -> Region:
            if i1 - i0 == 1 and j1 - j0 == 1:
                return Region(make=lambda: made(i0, j0))
            if (i1 - i0) * ny >= (j1 - j0) * nx:  # wider in world units: split x
                mid = (i0 + i1) // 2
                return Region(children=(node(i0, mid, j0, j1), node(mid, i1, j0, j1)))
            mid = (j0 + j1) // 2
            return Region(children=(node(i0, i1, j0, mid), node(i0, i1, mid, j1)))

        return node(0, nx, 0, ny)

    # The functions of position (the same in every tile, so the tiles meet without seams).

    def river(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Distance (about) from the river's centreline, a sine across the city along x."""
        e = self.extent
        return np.abs(y - (0.2 * e + 0.08 * e * np.sin(2 * np.pi * x / (0.6 * e))))

    def ground(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Terrain height: flat downtown, hills towards the edges, a valley for the river."""
        e = self.extent
        r = np.hypot(x, y) / (e / 2)
        hills = 0.05 * e * smoothstep(0.55, 1.05, r)
        hills = hills * (0.6 + 0.4 * np.sin(7.3 * x / e + 1.3) * np.cos(5.1 * y / e - 0.7))
        swell = 0.003 * e * np.sin(11.0 * x / e) * np.sin(13.0 * y / e)
        bank = smoothstep(self.river_width, 3.0 * self.river_width, self.river(x, y))
        return (hills + swell) * bank - 0.004 * e * (1.0 - bank)

    @property
    def river_width(self) -> float:
        """Half the river's width."""
        return 0.018 * self.extent

    def tint(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """[N, 3] slow colour drift across the city (districts look different)."""
        u, v = 2 * np.pi * x / self.extent, 2 * np.pi * y / self.extent
        drift = np.stack([np.sin(1.5 * u), np.sin(1.5 * v + 1.0), np.cos(1.2 * (u - v))], 1)
        return 1.0 + 0.12 * drift

    # One tile.

    def tile(self, i: int, j: int) -> GaussianScene:
        """The Gaussians of tile (i, j), from the tile's own seed."""
        rng = np.random.default_rng([self.seed, i, j])
        box = self.tile_box(i, j)
        buildings, parks, built = self._lots(rng, box)
        trees = self._trees(rng, parks)
        ground_area = (box[2] - box[0]) * (box[3] - box[1])
        building_area = (
            2 * (buildings[:, 2] - buildings[:, 0] + buildings[:, 3] - buildings[:, 1])
            * buildings[:, 5]
            + (buildings[:, 2] - buildings[:, 0]) * (buildings[:, 3] - buildings[:, 1])
        )  # fmt: skip
        tree_area = 4 * np.pi * trees[:, 3] ** 2
        areas = np.concatenate([[ground_area], building_area, tree_area])
        n = self.tile_count(i, j)
        shares = np.floor(n * areas / areas.sum()).astype(np.int64)
        shares[0] += n - shares.sum()
        spacing = math.sqrt(areas.sum() / n)  # one density over every surface of the tile
        b = buildings.shape[0]
        parts = [
            self._ground(rng, box, built, int(shares[0]), spacing),
            self._buildings(rng, buildings, shares[1 : 1 + b], spacing),
            self._trees_gaussians(rng, trees, shares[1 + b :], spacing),
        ]
        means, normals, rgb, leafy = (np.concatenate([p[k] for p in parts]) for k in range(4))
        return self._scene(rng, means, normals, rgb, leafy, spacing, f"city tile {i},{j}")

    def _lots(
        self, rng: np.random.Generator, box: tuple[float, ...]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Buildings, parks and which lots are built on.

        Buildings [B, 7] (x0, y0, x1, y1, base, height, hue), parks [P, 5] (lot box, ground z),
        built [kx, ky, 2, 2] (block x, block y, lot x, lot y).
        """
        x0, y0, x1, y1 = box
        kx, ky = self.blocks()
        px, py = (x1 - x0) / kx, (y1 - y0) / ky
        road = 0.13 * min(px, py)
        gap = 0.04 * min(px, py)
        lots = []
        for a in range(kx):
            for c in range(ky):
                bx, by = x0 + a * px + road, y0 + c * py + road
                w, h = (px - 2 * road - gap) / 2, (py - 2 * road - gap) / 2
                for u in range(2):
                    for v in range(2):
                        lx, ly = bx + u * (w + gap), by + v * (h + gap)
                        lots.append((lx, ly, lx + w, ly + h))
        lot = np.array(lots)
        cx, cy = (lot[:, 0] + lot[:, 2]) / 2, (lot[:, 1] + lot[:, 3]) / 2
        r = np.hypot(cx, cy) / (self.extent / 2)
        half = np.hypot(lot[:, 2] - lot[:, 0], lot[:, 3] - lot[:, 1]) / 2
        dry = self.river(cx, cy) > self.river_width * 2.5 + half
        built = dry & (r < 1.0) & (rng.random(len(lot)) < 0.92 * np.exp(-((r / 0.75) ** 2)) + 0.05)
        setback = rng.uniform(0.04, 0.2, size=(len(lot), 4)) * np.stack(
            [lot[:, 2] - lot[:, 0], lot[:, 3] - lot[:, 1]] * 2, axis=1
        )
        foot = lot + setback * np.array([1.0, 1.0, -1.0, -1.0])
        tall = 0.1 * self.extent * np.exp(-((r / 0.4) ** 2))  # towers downtown
        height = (0.008 * self.extent + tall) * rng.lognormal(0.0, 0.35, size=len(lot))
        height = np.minimum(height, 0.25 * self.extent)
        base = self.ground(cx, cy) - 0.5
        hue = (np.arctan2(cy, cx) / (2 * np.pi) + 0.5 + rng.normal(0, 0.04, len(lot))) % 1.0
        buildings = np.concatenate([foot, base[:, None], height[:, None], hue[:, None]], 1)
        parks = np.concatenate([lot, self.ground(cx, cy)[:, None]], 1)
        return buildings[built], parks[~built & dry], built.reshape(kx, ky, 2, 2)

    def _trees(self, rng: np.random.Generator, parks: np.ndarray) -> np.ndarray:
        """Trees [T, 5]: crown centre x, y, z, radius, hue."""
        area = (parks[:, 2] - parks[:, 0]) * (parks[:, 3] - parks[:, 1])
        per = rng.poisson(area / (0.0002 * self.extent**2))
        lot = np.repeat(np.arange(parks.shape[0]), per)
        x = rng.uniform(parks[lot, 0], parks[lot, 2])
        y = rng.uniform(parks[lot, 1], parks[lot, 3])
        radius = 0.003 * self.extent * rng.uniform(0.7, 1.4, size=lot.size)
        z = self.ground(x, y) + 1.6 * radius
        hue = rng.uniform(0.22, 0.33, size=lot.size)
        return np.stack([x, y, z, radius, hue], 1)

    def _ground(
        self,
        rng: np.random.Generator,
        box: tuple[float, ...],
        built: np.ndarray,
        n: int,
        spacing: float,
    ) -> tuple[np.ndarray, ...]:
        """Ground discs: streets (lane marks), pavement around buildings, grass, rock, water."""
        x0, y0, x1, y1 = box
        x, y = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        z = self.ground(x, y)
        step = 0.01 * spacing
        nx = -(self.ground(x + step, y) - z) / step
        ny = -(self.ground(x, y + step) - z) / step
        normals = np.stack([nx, ny, np.ones(n)], 1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        kx, ky = self.blocks()
        px, py = (x1 - x0) / kx, (y1 - y0) / ky
        road = 0.13 * min(px, py)
        fx, fy = (x - x0) % px, (y - y0) % py  # position within the block
        ex, ey = np.minimum(fx, px - fx), np.minimum(fy, py - fy)  # distance to its edge
        street = (ex < road) | (ey < road)
        mark = ((np.abs(ex) < 0.12 * road) & (fy % (2 * road) < road) & (ey >= road)) | (
            (np.abs(ey) < 0.12 * road) & (fx % (2 * road) < road) & (ex >= road)
        )
        r = np.hypot(x, y) / (self.extent / 2)
        grass = hsv(rng.uniform(0.22, 0.3, n), 0.55, rng.uniform(0.35, 0.5, n))
        rock = hsv(rng.uniform(0.07, 0.1, n), 0.3, rng.uniform(0.45, 0.6, n))
        high = smoothstep(0.02 * self.extent, 0.05 * self.extent, z)[:, None]
        rgb = grass * (1 - high) + rock * high
        city = r < 1.0
        pavement = rng.uniform(0.5, 0.6, n)[:, None] * np.ones(3)
        a = np.clip(((x - x0) // px).astype(np.int64), 0, kx - 1)
        c = np.clip(((y - y0) // py).astype(np.int64), 0, ky - 1)
        on_lot = built[a, c, (fx >= px / 2).astype(np.int64), (fy >= py / 2).astype(np.int64)]
        rgb = np.where(on_lot[:, None], pavement, rgb)
        asphalt = rng.uniform(0.18, 0.24, n)[:, None] * np.ones(3)
        rgb = np.where((street & city)[:, None], asphalt, rgb)
        rgb = np.where((street & city & mark)[:, None], np.array([0.9, 0.85, 0.6]), rgb)
        water = self.river(x, y) < self.river_width
        rgb = np.where(water[:, None], hsv(rng.uniform(0.55, 0.6, n), 0.6, 0.45), rgb)
        return np.stack([x, y, z], 1), normals, rgb * self.tint(x, y), np.zeros(n, bool)

    def _buildings(
        self, rng: np.random.Generator, buildings: np.ndarray, shares: np.ndarray, spacing: float
    ) -> tuple[np.ndarray, ...]:
        """Wall and roof discs; walls have floors of windows, some of them lit."""
        ids = np.repeat(np.arange(buildings.shape[0]), shares)
        b = buildings[ids]
        n = ids.size
        wx, wy, height = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1], b[:, 5]
        perimeter = 2 * (wx + wy)
        roof = rng.random(n) * (perimeter * height + wx * wy) < wx * wy
        s = rng.uniform(0, 1, n) * perimeter  # the walk around the walls
        up = rng.uniform(0, 1, n) * height
        side = np.select([s < wx, s < wx + wy, s < 2 * wx + wy], [0, 1, 2], 3)
        along = s - np.choose(side, [0 * s, wx, wx + wy, 2 * wx + wy])
        x = np.choose(side, [b[:, 0] + along, b[:, 2], b[:, 2] - along, b[:, 0]])
        y = np.choose(side, [b[:, 1], b[:, 1] + along, b[:, 3], b[:, 3] - along])
        normals = np.zeros((n, 3))
        normals[np.arange(n), np.choose(side, [1, 0, 1, 0])] = np.choose(side, [-1, 1, 1, -1])
        z = b[:, 4] + up
        x = np.where(roof, rng.uniform(b[:, 0], b[:, 2]), x)
        y = np.where(roof, rng.uniform(b[:, 1], b[:, 3]), y)
        z = np.where(roof, b[:, 4] + height, z)
        normals[roof] = (0.0, 0.0, 1.0)
        wall = hsv(b[:, 6], 0.3, 0.55 + 0.3 * smoothstep(0, 0.2 * self.extent, height))
        floor, bay = np.floor(up / STORY), np.floor(along / BAY)
        window = ((up % STORY) > 1.0) & ((up % STORY) < 2.7) & ((along % BAY) > 0.5)
        window &= ((along % BAY) < 2.5) & (up > STORY)
        cell = ids * 7919 + floor.astype(np.int64) * 104729 + bay.astype(np.int64) * 1299709
        lit = (cell * 2654435761 + self.seed) % 1000 < 180
        glass = np.where(lit[:, None], [1.0, 0.85, 0.5], [0.12, 0.16, 0.25])
        rgb = np.where(window[:, None], glass, wall)
        rgb = np.where(roof[:, None], hsv(b[:, 6], 0.15, 0.35), rgb)
        points = np.stack([x, y, z], 1)
        return points, normals, rgb * self.tint(x, y), np.zeros(n, bool)

    def _trees_gaussians(
        self, rng: np.random.Generator, trees: np.ndarray, shares: np.ndarray, spacing: float
    ) -> tuple[np.ndarray, ...]:
        """Leafy crowns: discs on a slightly tall ellipsoid around each crown centre."""
        ids = np.repeat(np.arange(trees.shape[0]), shares)
        t = trees[ids]
        n = ids.size
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        points = t[:, :3] + d * (t[:, 3:4] * rng.uniform(0.75, 1.0, (n, 1))) * [1.0, 1.0, 1.3]
        rgb = hsv(t[:, 4], 0.6, rng.uniform(0.25, 0.45, n))
        return points, d, rgb * self.tint(points[:, 0], points[:, 1]), np.ones(n, bool)

    def _scene(
        self,
        rng: np.random.Generator,
        means: np.ndarray,
        normals: np.ndarray,
        rgb: np.ndarray,
        leafy: np.ndarray,
        spacing: float,
        source: str,
    ) -> GaussianScene:
        """Discs (thin along their normal) of these colours; leaves a little less opaque."""
        n = means.shape[0]
        across = 0.6 * spacing * rng.lognormal(0.0, 0.15, n)
        scales = np.stack([across, across, 0.12 * across], 1)
        axis = np.stack([-normals[:, 1], normals[:, 0], np.zeros(n)], 1)  # z x normal
        rotations = np.concatenate([1.0 + normals[:, 2:3], axis], 1)  # (w, x, y, z): z -> normal
        down = rotations[:, 0] < 1e-6  # a normal of -z: half a turn about x
        rotations[down] = (0.0, 1.0, 0.0, 0.0)
        rotations /= np.linalg.norm(rotations, axis=1, keepdims=True)
        opacities = np.where(leafy, rng.uniform(0.55, 0.85, n), rng.uniform(0.85, 1.0, n))
        sh = np.zeros((n, (self.sh_degree + 1) ** 2, 3), np.float32)
        sh[:, 0] = (np.clip(rgb, 0.0, 1.0) - 0.5) / C0
        if self.sh_degree:  # a faint view-dependent sheen facing the normal, and some noise
            sheen = 0.15 * np.clip(rgb.mean(axis=1), 0.1, 1.0)[:, None] * normals[:, [1, 2, 0]]
            sh[:, 1:4] = sheen[:, :, None]
            sh[:, 1:] += rng.normal(0.0, 0.02, size=sh[:, 1:].shape)
        return GaussianScene.from_arrays(means, scales, rotations, opacities, sh, source=source)


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help=f"the {LOD_META_NAME} to write (its folder)")
    parser.add_argument("--count", type=int, default=20_000_000, help="Gaussians at level 0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sh-degree", type=int, default=1, choices=range(4))
    parser.add_argument(
        "--levels",
        type=int,
        default=None,
        help=f"LOD levels (default: enough that the coarsest holds <= {COARSEST:,}, at least 4)",
    )
    parser.add_argument("--extent", type=float, default=1000.0, help="the city's width")
    args = parser.parse_args(argv)
    if args.out.name != LOD_META_NAME:
        parser.error(f"OUT must be a path ending in {LOD_META_NAME}")
    layout = StreamLayout(levels=args.levels or auto_levels(args.count))
    city = City(args.count, args.seed, args.sh_degree, args.extent, layout.leaf_size)
    nx, ny = city.tiles
    start = time.perf_counter()
    done = 0

    def make(i: int, j: int) -> GaussianScene:
        nonlocal done
        if done % 16 == 0:
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (nx * ny - done) if done else float("nan")
            print(f"tile {done}/{nx * ny}: {elapsed:.0f} s, about {eta:.0f} s left", flush=True)
        done += 1
        return city.tile(i, j)

    counts = write_streamed_tree(city.regions(make), args.out, layout)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"wrote {args.out}: {counts[0]:,} Gaussians in {nx}x{ny} tiles, {layout.levels} levels "
        f"{counts}, {folder_bytes(args.out.parent) / 1e6:,.0f} MB, {seconds:.0f} s, "
        f"peak RSS {peak:,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
