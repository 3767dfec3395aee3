"""Live updates on the GPU: the host path, raw vs activated, in-place changes, densification, the
CUDA-GL interop upload (with a fake CUDA runtime here, the real one on a GPU) and its detection."""

from __future__ import annotations

import ctypes
import dataclasses
import math

import numpy as np
import pytest
import torch

from tests.conftest import random_scene
from tests.test_pipeline import MIN_PSNR, psnr
from viewer.camera import Camera
from viewer.protocol import ModelUpdate, canonical
from viewer.reference import render_reference
from viewer.render.context import DeviceInfo
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene, HostUpload
from viewer.render.interop import CudaGLUpload, choose_upload, interop_problem, load_runtime
from viewer.render.live_feed import LiveFeed
from viewer.render.renderer import SplatRenderer
from viewer.render.sort import choose_sort
from viewer.settings import RasterSettings, RenderSettings

CAMERA = Camera.look_at((0, -2.2, 0.4), (0, 0, 0), (0, 0, 1), 40, 30)
SETTINGS = RenderSettings(background=(0.1, 0.2, 0.3))


@pytest.fixture(scope="module")
def renderer(gl_ctx):
    r = SplatRenderer(gl_ctx, RasterSettings(backend="quads", sort="cpu"))
    yield r
    r.release()


@pytest.fixture
def scenes(gl_ctx):
    made = []

    def make(count: int = 1, raw: bool = True, device=None, upload=None) -> GpuScene:
        gpu_scene = GpuScene(gl_ctx, device or DeviceInfo.of(gl_ctx), count, raw=raw)
        if upload is not None:
            gpu_scene.upload = upload
        made.append(gpu_scene)
        return gpu_scene

    yield make
    for gpu_scene in made:
        gpu_scene.release()


def raw_params(seed: int, n: int, degree: int = 2, device: str = "cpu") -> dict[str, torch.Tensor]:
    """A trainer's parameters (gsplat's names): log-scales, logits, unnormalised quaternions."""
    scene = random_scene(np.random.default_rng(seed), n, sh_degree=degree)
    stretch = np.random.default_rng(seed + 1).uniform(0.3, 3.0, size=(n, 1))
    tensors = {
        "means": scene.means,
        "scales": np.log(scene.scales),
        "quats": scene.rotations * stretch,
        "opacities": np.log(scene.opacities / (1.0 - scene.opacities)),
        "sh0": scene.sh[:, :1],
        "shN": scene.sh[:, 1:],
    }
    return {k: torch.tensor(v, dtype=torch.float32, device=device) for k, v in tensors.items()}


def activated(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {
        "means": params["means"],
        "scales": params["scales"].exp(),
        "rotations": torch.nn.functional.normalize(params["quats"], dim=-1),
        "opacities": params["opacities"].sigmoid(),
        "sh": torch.cat([params["sh0"], params["shN"]], 1),
    }


def reference(params: dict[str, torch.Tensor]) -> np.ndarray:
    with torch.no_grad():
        cpu = {k: v.cpu() for k, v in activated(params).items()}
        return render_reference(cpu, CAMERA, SETTINGS).image.numpy()


def draw(renderer, gpu_scene) -> np.ndarray:
    return renderer.render_image(gpu_scene, FrameInputs(CAMERA), SETTINGS)


def feed_of(params, serial=1, raw=True, tensors=True) -> LiveFeed:
    feed = LiveFeed()
    feed.receive(ModelUpdate(serial, 10 * serial, params if tensors else None, raw))
    return feed


def test_host_path_image_after_update_equals_the_reference(renderer, scenes):
    params = raw_params(0, 300)
    gpu_scene = scenes()
    feed = feed_of(params)
    assert feed.apply(gpu_scene)  # the count changed: 1 -> 300
    assert gpu_scene.count == 300 and gpu_scene.sh_degree == 2
    assert isinstance(gpu_scene.upload, HostUpload) and not feed.on_device
    assert feed.upload_ms >= 0.0 and feed.updates == 1
    image = draw(renderer, gpu_scene)
    assert psnr(image, reference(params)) >= MIN_PSNR
    assert np.abs(image - reference(params)).max() < 2e-3


def test_raw_uploads_equal_activated_ones(renderer, scenes):
    params = raw_params(1, 250)
    raw, act = scenes(raw=True), scenes(raw=False)
    feed_of(params, raw=True).apply(raw)
    feed_of({k: v for k, v in activated(params).items()}, raw=False).apply(act)
    a, b = draw(renderer, raw), draw(renderer, act)
    assert psnr(a, b) >= 60.0
    with pytest.raises(ValueError, match="raw mode"):
        feed_of(params, raw=False).apply(raw)


def test_shards_write_their_own_rows_in_any_order(renderer, scenes):
    """Producers of a distributed training each send their rows: the image is the whole model's."""
    params = raw_params(7, 300)
    halves = [{k: v[:120] for k, v in params.items()}, {k: v[120:] for k, v in params.items()}]
    gpu_scene = scenes()
    feed = LiveFeed()
    feed.receive(ModelUpdate(1, 5, halves[1], shard=1, row_offset=120))  # the second rank first
    assert feed.count == 0  # after a gap: not drawn until rows 0-119 come
    assert not feed.apply(gpu_scene)
    feed.receive(ModelUpdate(1, 5, halves[0], shard=0, row_offset=0))
    assert feed.count == 300
    assert feed.apply(gpu_scene) and gpu_scene.count == 300
    assert np.abs(draw(renderer, gpu_scene) - reference(params)).max() < 2e-3
    np.testing.assert_allclose(feed.host_arrays()["means"], params["means"].numpy())
    with torch.no_grad():
        halves[1]["means"] += 0.1  # one rank's step, in place
    feed.receive(ModelUpdate(2, 6, None, shard=1, row_offset=120))
    feed.apply(gpu_scene)
    assert np.abs(draw(renderer, gpu_scene) - reference(params)).max() < 2e-3
    with pytest.raises(ValueError, match="shard 2's rows overlap shard 1's"):
        feed.receive(ModelUpdate(1, 6, halves[0], shard=2, row_offset=200))


def test_values_changed_in_place_are_shown_by_an_update_without_tensors(renderer, scenes):
    params = raw_params(2, 200)
    gpu_scene = scenes()
    feed = feed_of(params)
    feed.apply(gpu_scene)
    version = gpu_scene.version
    with torch.no_grad():  # an optimiser step, in place
        params["means"] += 0.05
        params["sh0"] *= 0.5
    feed.receive(ModelUpdate(2, 20, None))  # the same tensors: only the step
    assert not feed.apply(gpu_scene)  # the count is the same
    assert gpu_scene.version != version and feed.step == 20
    assert psnr(draw(renderer, gpu_scene), reference(params)) >= MIN_PSNR


def test_densification_and_sh_degree_follow_the_tensors(renderer, scenes, gl_ctx):
    small = dataclasses.replace(DeviceInfo.of(gl_ctx), max_ssbo_bytes=4096)  # many chunks
    gpu_scene = scenes(device=small)
    for serial, (n, degree) in enumerate([(50, 0), (400, 3), (120, 1)], 1):
        params = raw_params(serial, n, degree)
        feed = feed_of(params, serial)
        assert feed.apply(gpu_scene)
        assert gpu_scene.count == n and gpu_scene.sh_degree == degree
        assert psnr(draw(renderer, gpu_scene), reference(params)) >= MIN_PSNR
    lo, hi = gpu_scene.bounds
    assert (lo < hi).all()


def test_parameter_names_are_checked():
    params = raw_params(3, 10)
    assert set(canonical(params)) == {"means", "scales", "rotations", "opacities", "sh"}
    assert canonical(params)["sh"].shape == (10, 9, 3)
    with pytest.raises(ValueError, match="unknown parameters"):
        canonical({**params, "colours": params["means"]})
    with pytest.raises(ValueError, match="missing parameters: scales"):
        canonical({k: v for k, v in params.items() if k != "scales"})
    with pytest.raises(ValueError, match="different lengths"):
        canonical({**params, "means": params["means"][:5]})


# -- CUDA-GL interop with a fake runtime: the register/map/copy/unmap sequence -------------------


class FakeRuntime:
    """cuda-python's runtime as the upload uses it, copying host memory.

    A mapped buffer is a host block holding the GL buffer's contents; cudaMemcpyAsync copies
    from a CPU tensor's data_ptr into it; unmapping writes the block back into the GL buffer.
    """

    class cudaError_t:
        cudaSuccess = 0

    class cudaGraphicsRegisterFlags:
        cudaGraphicsRegisterFlagsNone = 0

    class cudaMemcpyKind:
        cudaMemcpyDeviceToDevice = 3

    def __init__(self, buffers_by_glo):
        self.buffers = buffers_by_glo  # glo -> moderngl buffer (the fake's "GL driver")
        self.calls: list[tuple] = []
        self.registered: dict[int, int] = {}  # resource -> glo
        self.mapped: dict[int, ctypes.Array] = {}
        self.next = 100

    def cudaGraphicsGLRegisterBuffer(self, glo, flags):
        self.next += 1
        self.registered[self.next] = glo
        self.calls.append(("register", glo))
        return 0, self.next

    def cudaGraphicsMapResources(self, count, resource, stream):
        assert count == 1 and resource in self.registered and resource not in self.mapped
        data = self.buffers[self.registered[resource]].read()
        self.mapped[resource] = ctypes.create_string_buffer(data, len(data))
        self.calls.append(("map", resource))
        return (0,)

    def cudaGraphicsResourceGetMappedPointer(self, resource):
        block = self.mapped[resource]
        return 0, ctypes.addressof(block), ctypes.sizeof(block)

    def cudaMemcpyAsync(self, dst, src, nbytes, kind, stream):
        assert kind == 3 and any(
            ctypes.addressof(b) <= dst and dst + nbytes <= ctypes.addressof(b) + ctypes.sizeof(b)
            for b in self.mapped.values()
        ), "a copy outside every mapped buffer"
        ctypes.memmove(dst, src, nbytes)
        self.calls.append(("copy", nbytes))
        return (0,)

    def cudaGraphicsUnmapResources(self, count, resource, stream):
        block = self.mapped.pop(resource)
        self.buffers[self.registered[resource]].write(block.raw)
        self.calls.append(("unmap", resource))
        return (0,)

    def cudaGraphicsUnregisterResource(self, resource):
        assert resource not in self.mapped
        self.calls.append(("unregister", self.registered.pop(resource)))
        return (0,)


class BufferIndex(dict):
    """glo -> buffer of every buffer of a GpuScene (refreshed on lookup)."""

    def __init__(self, gpu_scene_ref):
        super().__init__()
        self.ref = gpu_scene_ref

    def __getitem__(self, glo):
        for chunk in self.ref[0].chunks:
            for buffer in chunk.buffers.values():
                if buffer.glo == glo:
                    return buffer
        raise KeyError(glo)


def fake_upload():
    holder: list = []
    runtime = FakeRuntime(BufferIndex(holder))
    upload = CudaGLUpload(runtime=runtime, stream=lambda: 0, is_device=torch.is_tensor)
    return upload, runtime, holder


def test_interop_sequence_with_a_fake_runtime(renderer, scenes, gl_ctx):
    upload, runtime, holder = fake_upload()
    small = dataclasses.replace(DeviceInfo.of(gl_ctx), max_ssbo_bytes=8192)
    gpu_scene = scenes(device=small, upload=upload)
    holder.append(gpu_scene)
    params = raw_params(4, 90, degree=1)
    feed = feed_of(params)
    feed.apply(gpu_scene)
    kinds = [c[0] for c in runtime.calls]
    # every buffer written is registered once, mapped, copied into, unmapped; GL reads after
    assert kinds.count("register") == kinds.count("map") == kinds.count("unmap") > 0
    assert kinds.index("unmap") > max(i for i, k in enumerate(kinds) if k == "copy")
    assert psnr(draw(renderer, gpu_scene), reference(params)) >= MIN_PSNR
    np.testing.assert_array_equal(gpu_scene.read("means")[:, :3], params["means"].numpy())

    registered = kinds.count("register")
    runtime.calls.clear()
    with torch.no_grad():
        params["opacities"] -= 1.0
    feed.receive(ModelUpdate(2, 20, None))
    feed.apply(gpu_scene)  # same buffers: no new registration
    assert [c[0] for c in runtime.calls].count("register") == 0
    assert psnr(draw(renderer, gpu_scene), reference(params)) >= MIN_PSNR

    bigger = raw_params(5, 500, degree=2)  # growth and a new SH width: buffers replaced
    runtime.calls.clear()
    feed_of(bigger, 3).apply(gpu_scene)
    kinds = [c[0] for c in runtime.calls]
    assert kinds.count("unregister") > 0 and kinds.count("register") > 0
    assert all(glo != r for r in runtime.registered.values() for k, glo in runtime.calls
               if k == "unregister")  # fmt: skip
    assert psnr(draw(renderer, gpu_scene), reference(bigger)) >= MIN_PSNR
    gpu_scene.release()
    holder.clear()
    assert not runtime.registered and registered > 0


def test_numpy_rows_take_the_host_path_of_the_interop_upload(scenes):
    upload, runtime, holder = fake_upload()
    gpu_scene = scenes(upload=upload)
    holder.append(gpu_scene)
    scene = random_scene(np.random.default_rng(6), 20, sh_degree=0)
    gpu_scene.write(means=scene.means, scales=np.log(scene.scales), rotations=scene.rotations,
                    opacities=np.zeros(20), sh=scene.sh)  # fmt: skip
    assert runtime.calls == []
    np.testing.assert_array_equal(gpu_scene.read("means")[:, :3], scene.means)


# -- detection ------------------------------------------------------------------------------------


def test_interop_is_detected_off_here_with_a_reason(gl_ctx):
    device = DeviceInfo.of(gl_ctx)
    problem = interop_problem(gl_ctx, device)
    upload, why = choose_upload(gl_ctx, device)
    if problem is None:  # a CUDA GPU drives this GL context
        assert isinstance(upload, CudaGLUpload) and why is None
        return
    assert isinstance(upload, HostUpload) and why == problem
    if any(name in device.renderer.lower() for name in ("llvmpipe", "softpipe")):
        assert device.renderer in problem
    elif not torch.cuda.is_available():
        assert "no CUDA device" in problem


@pytest.mark.parametrize(
    ("renderer", "software", "forwarded"),
    [
        ("llvmpipe (LLVM 15.0.7, 256 bits)", True, False),
        ("softpipe", True, False),
        ("zink Vulkan 1.3(lavapipe)", True, False),
        ("D3D12 (Microsoft Basic Render Driver)", True, True),
        ("D3D12 (NVIDIA GeForce RTX 4090)", False, True),
        ("virgl (NVIDIA GeForce RTX 3080)", False, True),
        ("NVIDIA H100 80GB HBM3/PCIe/SSE2", False, False),
    ],
)
def test_one_software_check_serves_the_sort_and_interop(gl_ctx, renderer, software, forwarded):
    device = dataclasses.replace(DeviceInfo.of(gl_ctx), renderer=renderer)
    assert (device.is_software, device.is_forwarded) == (software, forwarded)
    assert choose_sort("auto", device) == ("cpu" if software else "gpu")
    if software or forwarded:  # refused before torch or cuda-python are asked
        assert interop_problem(gl_ctx, device) == f"the OpenGL device is {renderer}, not a CUDA GPU"


def test_detection_without_cuda_python(gl_ctx, monkeypatch):
    """On a GL device that could be CUDA's, a missing cuda-python is the reason given."""
    import viewer.render.interop as interop

    device = dataclasses.replace(DeviceInfo.of(gl_ctx), renderer="NVIDIA H100 80GB HBM3/PCIe/SSE2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def missing():
        raise ImportError("No module named 'cuda'")

    monkeypatch.setattr(interop, "load_runtime", missing)
    assert "cuda-python is not installed" in interop_problem(gl_ctx, device)


def test_the_module_imports_without_cuda_python():
    try:
        load_runtime()
    except ImportError:
        with pytest.raises(ImportError):
            CudaGLUpload()  # looks the runtime up only when made without one
    else:
        pytest.skip("cuda-python is installed here")


# -- the real thing (CUDA GPU driving the GL context) ---------------------------------------------


@pytest.mark.gpu
def test_interop_update_equals_the_host_path_on_a_gpu(renderer, scenes, gl_ctx):
    problem = interop_problem(gl_ctx)
    if problem is not None:
        pytest.skip(f"CUDA-GL interop unavailable: {problem}")
    params = raw_params(7, 5000, device="cuda")
    host, device = scenes(), scenes(upload=CudaGLUpload())
    feed = feed_of(params)
    feed.apply(device)
    assert feed.on_device and math.isfinite(feed.upload_ms)
    feed_of({k: v.cpu() for k, v in params.items()}).apply(host)
    for name in ("means", "scales", "rotations", "opacities", "sh"):
        np.testing.assert_array_equal(device.read(name), host.read(name))
    assert psnr(draw(renderer, device), reference(params)) >= MIN_PSNR
    with torch.no_grad():
        params["means"] *= 1.1
    feed.receive(ModelUpdate(2, 2, None))
    feed.apply(device)
    np.testing.assert_array_equal(device.read("means")[:, :3], params["means"].cpu().numpy())


def test_a_long_copy_holds_the_next_one_back(scenes):
    from viewer.render.live_feed import UPLOAD_SHARE

    gpu_scene = scenes()
    feed = feed_of(raw_params(8, 50))
    assert feed.due(0.0) and feed.pending
    feed.apply(gpu_scene)
    assert not feed.pending and not feed.due()
    feed.receive(ModelUpdate(2, 2, None))
    copy = feed.upload_ms / 1e3
    hold = copy * (1.0 / UPLOAD_SHARE - 1.0)
    import time

    now = time.perf_counter()
    assert feed.due(now + hold + 1e-3)
    if hold > 1e-3:
        assert not feed.due(now - hold)
