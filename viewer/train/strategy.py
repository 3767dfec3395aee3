"""Adaptive density control of the original 3DGS: clone, split, prune, reset opacities.

Used with the reference renderer (gsplat's own DefaultStrategy runs with gsplat). The schedule
and rules are the paper's, with gsplat's names for the thresholds:
- every step until `densify_until`: the norm of each visible Gaussian's screen-space mean
  gradient (NDC units, i.e. pixels times half the image size) is summed, and visible steps
  counted;
- every `densify_every` steps after `densify_from`: Gaussians whose mean gradient exceeds
  `densify_grad` are cloned when small (largest scale <= 1 % of the scene extent) or split in
  two when large (samples from the Gaussian, scales / 1.6); then those below `prune_opacity`, and
  after the first opacity reset those larger than 10 % of the extent, are removed;
- every `opacity_reset_every` steps: opacities are lowered to at most 2 x `prune_opacity`.
Optimizer moments of new Gaussians start at zero; removed ones' are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from viewer.reference import quaternion_to_matrix
from viewer.settings import TrainSettings

GROW_SCALE3D = 0.01  # of the extent: clone at or below, split above
PRUNE_SCALE3D = 0.1  # of the extent: pruned above, after the first opacity reset
SPLIT_SHRINK = 1.6  # split children's scales are the parent's / this


@dataclass
class RefineReport:
    """What one densification did."""

    cloned: int = 0
    split: int = 0
    pruned: int = 0
    reset: bool = False


class Densifier:
    """The running statistics and the clone/split/prune/reset rules over a model's parameters."""

    def __init__(
        self, schedule: TrainSettings, extent: float, count: int, device: torch.device
    ) -> None:
        self.schedule = schedule
        self.extent = extent
        self.grad2d = torch.zeros(count, device=device)
        self.visible = torch.zeros(count, device=device)

    def observe(self, ids: torch.Tensor, grad_ndc: torch.Tensor) -> None:
        """Add one view's statistics.

        Args:
            ids: [P] Gaussians seen (footprint on the image).
            grad_ndc: [P, 2] their screen-space mean gradients in NDC units.
        """
        self.grad2d.index_add_(0, ids, grad_ndc.norm(dim=-1))
        self.visible.index_add_(0, ids, torch.ones_like(ids, dtype=self.visible.dtype))

    def due(self, step: int) -> tuple[bool, bool]:
        """(refine now, reset opacities now) after step `step` (1-based)."""
        s = self.schedule
        refine = s.densify_from < step <= s.densify_until and step % s.densify_every == 0
        reset = (
            s.opacity_reset_every > 0
            and step <= s.densify_until
            and step % s.opacity_reset_every == 0
        )
        return refine, reset

    @torch.no_grad()
    def refine(
        self,
        params: torch.nn.ParameterDict,
        optimizers: dict[str, torch.optim.Optimizer],
        step: int,
        generator: torch.Generator | None = None,
    ) -> RefineReport:
        """Clone, split and prune by the statistics gathered since the last refinement."""
        s = self.schedule
        report = RefineReport()
        mean_grad = self.grad2d / self.visible.clamp_min(1.0)
        high = mean_grad > s.densify_grad
        largest = torch.exp(params["scales"]).max(dim=-1).values
        small = largest <= GROW_SCALE3D * self.extent
        clone, split = high & small, high & ~small
        if s.max_gaussians:
            room = max(s.max_gaussians - params["means"].shape[0], 0)
            clone, split = _limit(clone, split, mean_grad, room)
        report.cloned = int(clone.sum())
        if report.cloned:
            self._clone(params, optimizers, clone)
            split = torch.cat([split, split.new_zeros(report.cloned)])
        report.split = int(split.sum())
        if report.split:
            self._split(params, optimizers, split, generator)
        prune = torch.sigmoid(params["opacities"]) < s.prune_opacity
        if s.opacity_reset_every and step > s.opacity_reset_every:
            prune |= torch.exp(params["scales"]).max(dim=-1).values > PRUNE_SCALE3D * self.extent
        if bool(prune.all()):  # never remove every Gaussian
            prune[torch.argmax(params["opacities"])] = False
        report.pruned = int(prune.sum())
        if report.pruned:
            keep = ~prune
            _edit(params, optimizers, lambda _, v: v[keep], lambda _, v: v[keep])
        self.grad2d = torch.zeros(params["means"].shape[0], device=self.grad2d.device)
        self.visible = torch.zeros_like(self.grad2d)
        return report

    @torch.no_grad()
    def reset_opacities(
        self, params: torch.nn.ParameterDict, optimizers: dict[str, torch.optim.Optimizer]
    ) -> None:
        """Lower every opacity to at most 2 x prune_opacity (the optimizer's moments cleared)."""
        ceiling = torch.logit(torch.tensor(2.0 * self.schedule.prune_opacity)).item()

        def values(name: str, v: torch.Tensor) -> torch.Tensor:
            return v.clamp(max=ceiling) if name == "opacities" else v

        def moments(name: str, v: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(v) if name == "opacities" else v

        _edit(params, optimizers, values, moments, only="opacities")

    def _clone(self, params, optimizers, mask: torch.Tensor) -> None:
        _edit(
            params, optimizers,
            lambda _, v: torch.cat([v, v[mask]]),
            lambda _, v: torch.cat([v, v.new_zeros((int(mask.sum()), *v.shape[1:]))]),
        )  # fmt: skip
        self.grad2d = torch.cat([self.grad2d, self.grad2d[mask]])
        self.visible = torch.cat([self.visible, self.visible[mask]])

    def _split(self, params, optimizers, mask: torch.Tensor, generator) -> None:
        """Each masked Gaussian becomes two, at samples of itself, scales / SPLIT_SHRINK."""
        rest = ~mask
        chosen = mask.nonzero().squeeze(1)
        scales = torch.exp(params["scales"][chosen])  # [S, 3]
        rotations = quaternion_to_matrix(
            torch.nn.functional.normalize(params["quats"][chosen], dim=-1)
        )  # [S, 3, 3]
        noise = torch.randn((2, chosen.shape[0], 3), generator=generator).to(scales.device)
        offsets = torch.einsum("sij,sj,bsj->bsi", rotations, scales, noise)  # [2, S, 3]

        def values(name: str, v: torch.Tensor) -> torch.Tensor:
            if name == "means":
                children = (v[chosen][None] + offsets).reshape(-1, 3)
            elif name == "scales":
                children = torch.log(scales / SPLIT_SHRINK).repeat(2, 1)
            else:
                children = v[chosen].repeat(2, *([1] * (v.dim() - 1)))
            return torch.cat([v[rest], children])

        def moments(_: str, v: torch.Tensor) -> torch.Tensor:
            return torch.cat([v[rest], v.new_zeros((2 * chosen.shape[0], *v.shape[1:]))])

        _edit(params, optimizers, values, moments)
        self.grad2d = torch.cat([self.grad2d[rest], self.grad2d[chosen].repeat(2)])
        self.visible = torch.cat([self.visible[rest], self.visible[chosen].repeat(2)])


def _limit(
    clone: torch.Tensor, split: torch.Tensor, score: torch.Tensor, room: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the highest-scoring candidates so that clones + splits add at most `room`."""
    if int(clone.sum()) + int(split.sum()) <= room:
        return clone, split
    candidates = (clone | split).nonzero().squeeze(1)
    best = candidates[torch.argsort(score[candidates], descending=True)[:room]]
    keep = torch.zeros_like(clone)
    keep[best] = True
    return clone & keep, split & keep


def _edit(
    params: torch.nn.ParameterDict,
    optimizers: dict[str, torch.optim.Optimizer],
    values: Callable[[str, torch.Tensor], torch.Tensor],
    moments: Callable[[str, torch.Tensor], torch.Tensor],
    only: str | None = None,
) -> None:
    """Replace parameters (and their Adam moments) by functions of the old ones.

    The new Parameter replaces the old one in `params` and in its optimizer's param group; the
    optimizer state moves to it with `moments` applied to each tensor moment (the step count
    stays).
    """
    for name, optimizer in optimizers.items():
        if only is not None and name != only:
            continue
        old = params[name]
        new = torch.nn.Parameter(values(name, old.data), requires_grad=old.requires_grad)
        state = optimizer.state.pop(old, None)
        if state is not None:
            for key, moment in state.items():
                if isinstance(moment, torch.Tensor) and moment.dim() > 0:
                    state[key] = moments(name, moment)
            optimizer.state[new] = state
        optimizer.param_groups[0]["params"] = [new]
        params[name] = new
