"""CUDA-GL interop: torch CUDA tensors copied device to device into the GPU scene's buffers.

`CudaGLUpload` is an `Upload` (viewer.render.gpu_scene): `GpuScene.write` hands it packed rows;
rows that are CUDA tensors are queued and, at `flush` (the end of the write), copied with the
CUDA runtime of cuda-python:
    register   cudaGraphicsGLRegisterBuffer(buffer.glo, flags None) once per GL buffer (the GL
               context current); None rather than WriteDiscard, because writes may cover part
               of a buffer (ranged writes, chunks larger than the count) and the rest must stay;
    map        cudaGraphicsMapResources on torch's current stream (GL work issued before it
               completes before the copies start);
    copy       cudaGraphicsResourceGetMappedPointer, cudaMemcpyAsync device to device from the
               tensor's data_ptr at the row's byte offset;
    unmap      cudaGraphicsUnmapResources on the same stream before GL reads the buffer (CUDA
               work issued before it completes before later GL work starts).
Buffers the scene frees or replaces (growth, a new SH degree) are unregistered through `forget`,
so a GL name reused for a new buffer is registered afresh. numpy arrays and CPU tensors take
the host path (glBufferSubData).

`interop_problem` says why interop cannot work here (llvmpipe or another software or WSL
OpenGL, no CUDA device, no cuda-python, the GL device not the CUDA device, a failed trial copy),
or None; the caller then uses `HostUpload` and says so once. This module imports without torch
or cuda-python; the runtime is looked up when needed (or given, for tests).
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from typing import Any

import moderngl
import numpy as np

from viewer.render.context import DeviceInfo
from viewer.render.gpu_scene import HostUpload, _is_tensor

TRIAL_FLOATS = 64


class InteropError(RuntimeError):
    """A CUDA runtime call failed; the message names the call and the CUDA error."""


def load_runtime() -> Any:
    """The CUDA runtime module of cuda-python.

    `cuda.bindings.runtime`, or `cuda.cudart` in releases before 12.6.

    Raises:
        ImportError: when cuda-python is not installed.
    """
    try:
        return importlib.import_module("cuda.bindings.runtime")
    except ImportError:
        return importlib.import_module("cuda.cudart")


def _check(runtime: Any, result: Any, call: str) -> Any:
    """The values of a cuda-python call's (error, *values) tuple; InteropError on an error."""
    values = result if isinstance(result, tuple) else (result,)
    error = values[0]
    if error != runtime.cudaError_t.cudaSuccess:
        name = getattr(error, "name", str(error))
        raise InteropError(f"{call} failed: {name} ({int(error)})")
    rest = values[1:]
    return rest[0] if len(rest) == 1 else rest


def _current_stream() -> int:
    """The handle of torch's current CUDA stream."""
    import torch

    return int(torch.cuda.current_stream().cuda_stream)


@dataclass
class _Pending:
    buffer: moderngl.Buffer
    offset: int
    rows: Any  # a contiguous CUDA tensor, kept alive until copied


@dataclass
class CudaGLUpload:
    """Copies CUDA tensors into GL buffers through CUDA-GL interop; anything else via the host.

    Attributes:
        runtime: cuda-python's runtime module (a fake in tests).
        stream: returns the stream handle the copies are ordered on (torch's current one).
        is_device: whether rows are device memory the runtime may copy from (CUDA tensors).
        registered: the interop resource of each GL buffer, by the buffer object's id.
    """

    runtime: Any = None
    stream: Any = _current_stream
    is_device: Any = None
    name: str = "cuda-gl interop"
    registered: dict[int, tuple[moderngl.Buffer, Any]] = field(default_factory=dict)
    host: HostUpload = field(default_factory=HostUpload)
    pending: list[_Pending] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.runtime is None:
            self.runtime = load_runtime()
        if self.is_device is None:
            self.is_device = lambda rows: _is_tensor(rows) and rows.is_cuda

    def copy(self, buffer: moderngl.Buffer, offset: int, rows: Any) -> None:
        """Queue a device copy of `rows` (CUDA tensor) at byte `offset`, else write via the host."""
        if not self.is_device(rows):
            self.host.copy(buffer, offset, rows)
            return
        self.pending.append(_Pending(buffer, offset, rows.contiguous()))

    def flush(self) -> None:
        """Map the buffers written, copy every queued row block, unmap (before GL reads)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        rt = self.runtime
        stream = self.stream()
        resources: list[Any] = []
        for item in pending:
            resource = self._resource(item.buffer)
            if not any(resource is r for r in resources):
                resources.append(resource)
        mapped: list[Any] = []
        try:
            for resource in resources:
                _check(rt, rt.cudaGraphicsMapResources(1, resource, stream),
                       "cudaGraphicsMapResources")  # fmt: skip
                mapped.append(resource)
            kind = rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice
            for item in pending:
                resource = self.registered[id(item.buffer)][1]
                pointer, size = _check(
                    rt, rt.cudaGraphicsResourceGetMappedPointer(resource),
                    "cudaGraphicsResourceGetMappedPointer",
                )  # fmt: skip
                nbytes = item.rows.numel() * item.rows.element_size()
                if item.offset + nbytes > int(size):
                    raise InteropError(
                        f"a copy of {nbytes} bytes at {item.offset} overruns a buffer of {size}"
                    )
                _check(
                    rt,
                    rt.cudaMemcpyAsync(int(pointer) + item.offset, item.rows.data_ptr(), nbytes,
                                       kind, stream),
                    "cudaMemcpyAsync",
                )  # fmt: skip
        finally:
            for resource in mapped:
                _check(rt, rt.cudaGraphicsUnmapResources(1, resource, stream),
                       "cudaGraphicsUnmapResources")  # fmt: skip

    def forget(self, buffer: moderngl.Buffer) -> None:
        """Unregister `buffer` (before it is released or replaced)."""
        entry = self.registered.pop(id(buffer), None)
        if entry is not None:
            rt = self.runtime
            _check(rt, rt.cudaGraphicsUnregisterResource(entry[1]),
                   "cudaGraphicsUnregisterResource")  # fmt: skip

    def release(self) -> None:
        """Unregister every buffer."""
        for buffer, _ in list(self.registered.values()):
            self.forget(buffer)

    def _resource(self, buffer: moderngl.Buffer) -> Any:
        """The interop resource of `buffer`, registered on first use."""
        entry = self.registered.get(id(buffer))
        if entry is None:
            rt = self.runtime
            flags = rt.cudaGraphicsRegisterFlags.cudaGraphicsRegisterFlagsNone
            resource = _check(rt, rt.cudaGraphicsGLRegisterBuffer(buffer.glo, flags),
                              "cudaGraphicsGLRegisterBuffer")  # fmt: skip
            entry = (buffer, resource)  # the buffer object is kept: its id stays unique
            self.registered[id(buffer)] = entry
        return entry[1]


def interop_problem(ctx: moderngl.Context, device: DeviceInfo | None = None) -> str | None:
    """Why CUDA-GL interop cannot work with `ctx`, or None when a trial copy succeeded.

    Checks, cheapest first: a software or WSL OpenGL (llvmpipe, D3D12), a CUDA device for torch,
    cuda-python, the CUDA devices of the GL context (`cudaGLGetDevices`) holding torch's
    device, then a 256-byte trial copy read back through GL.
    """
    device = device or DeviceInfo.of(ctx)
    if device.is_software or device.is_forwarded:
        return f"the OpenGL device is {device.renderer}, not a CUDA GPU"
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA device (torch.cuda.is_available() is False)"
    try:
        runtime = load_runtime()
    except ImportError:
        return "cuda-python is not installed (pip install 'splatscope[interop]')"
    try:
        gl_devices = _gl_devices(runtime)
    except InteropError as exc:
        return f"the OpenGL context is not on a CUDA device ({exc})"
    cuda_device = torch.cuda.current_device()
    if cuda_device not in gl_devices:
        return (
            f"the OpenGL context runs on CUDA device(s) {gl_devices}, torch on device {cuda_device}"
        )
    return _trial_copy(ctx, runtime)


def _gl_devices(runtime: Any) -> list[int]:
    """CUDA device ordinals the current GL context runs on."""
    device_list = runtime.cudaGLDeviceList.cudaGLDeviceListAll
    count, devices = _check(runtime, runtime.cudaGLGetDevices(8, device_list), "cudaGLGetDevices")
    return [int(d) for d in list(devices)[: int(count)]]


def _trial_copy(ctx: moderngl.Context, runtime: Any) -> str | None:
    """Copy a known tensor into a small GL buffer through interop and read it back."""
    import torch

    values = torch.arange(TRIAL_FLOATS, dtype=torch.float32, device="cuda") + 0.5
    buffer = ctx.buffer(reserve=TRIAL_FLOATS * 4)
    upload = CudaGLUpload(runtime=runtime)
    try:
        upload.copy(buffer, 0, values)
        upload.flush()
        torch.cuda.current_stream().synchronize()
        got = np.frombuffer(buffer.read(), np.float32)
        if not np.array_equal(got, values.cpu().numpy()):
            return "a trial copy through CUDA-GL interop read back wrong values"
    except InteropError as exc:
        return f"a trial copy through CUDA-GL interop failed: {exc}"
    finally:
        with contextlib.suppress(InteropError):
            upload.release()
        buffer.release()
    return None


def choose_upload(
    ctx: moderngl.Context, device: DeviceInfo | None = None
) -> tuple[Any, str | None]:
    """(the interop upload where it works, else HostUpload; why interop is off, or None)."""
    problem = interop_problem(ctx, device)
    if problem is not None:
        return HostUpload(), problem
    return CudaGLUpload(), None
