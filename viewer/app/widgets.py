"""ImGui widgets generated from the setting descriptions (`viewer.setting_specs.specs`).

bool -> checkbox, choices -> combo, int/float with a range -> slider (logarithmic over wide
positive ranges), without one -> input field, 3-tuple in [0, 1] -> colour edit, other tuples ->
drag fields. Each widget's tooltip is the setting's help and unit.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

from imgui_bundle import imgui

from viewer.setting_specs import SettingSpec, specs

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")
LOG_SLIDER_RATIO = 100.0  # ranges spanning this factor or more get a logarithmic slider


def widget_kind(spec: SettingSpec) -> str:
    """The kind of widget that edits the setting `spec`.

    One of checkbox, combo, slider_int, slider_float, input_int, input_float, color or
    drag_floats.

    Raises:
        ValueError: for a setting type no widget edits.
    """
    if spec.kind is bool:
        return "checkbox"
    if spec.choices:
        return "combo"
    if spec.kind is tuple:
        is_colour = len(spec.default) == 3 and spec.range == (0.0, 1.0)
        return "color" if is_colour else "drag_floats"
    if spec.kind in (int, float):
        return f"{'slider' if spec.range else 'input'}_{spec.kind.__name__}"
    raise ValueError(f"{spec.name}: no widget edits {spec.kind.__name__} settings")


def _label(spec: SettingSpec) -> str:
    return f"{spec.name.replace('_', ' ')}##{spec.name}"


def _slider_flags(spec: SettingSpec, lo: float, hi: float) -> int:
    flags = imgui.SliderFlags_.always_clamp.value
    if lo > 0 and hi / lo >= LOG_SLIDER_RATIO:
        flags |= imgui.SliderFlags_.logarithmic.value
    return flags


def edit_value(spec: SettingSpec, value: Any) -> tuple[bool, Any]:
    """Draw the widget for one setting; returns (changed, new value)."""
    kind = widget_kind(spec)
    label = _label(spec)
    unit = f" {spec.unit}" if spec.unit else ""
    lo, hi = spec.range or (0.0, 0.0)
    new: Any
    if kind == "checkbox":
        changed, new = imgui.checkbox(label, bool(value))
    elif kind == "combo":
        choices = list(spec.choices or ())
        changed, index = imgui.combo(label, choices.index(value), choices)
        new = choices[index]
    elif kind == "slider_int":
        flags = _slider_flags(spec, lo, hi)
        changed, new = imgui.slider_int(label, int(value), int(lo), int(hi), f"%d{unit}", flags)
    elif kind == "slider_float":
        fmt = f"%.3g{unit}"
        flags = _slider_flags(spec, lo, hi)
        changed, new = imgui.slider_float(label, float(value), lo, hi, fmt, flags)
    elif kind == "input_int":
        changed, new = imgui.input_int(label, int(value))
    elif kind == "input_float":
        changed, new = imgui.input_float(label, float(value))
    elif kind == "color":
        changed, rgb = imgui.color_edit3(label, [float(v) for v in value])
        new = tuple(min(max(float(v), 0.0), 1.0) for v in rgb)
    else:
        draw = getattr(imgui, f"drag_float{len(value)}")
        changed, values = draw(label, [float(v) for v in value], 0.01, lo, hi)
        new = tuple(float(v) for v in values)
    imgui.set_item_tooltip(f"{spec.help}{f' [{spec.unit}]' if spec.unit else ''}")
    return changed and new != value, new


def edit_settings(settings: T) -> T:
    """Draw one widget per field of a settings dataclass; returns the settings as edited.

    The same object comes back when nothing changed; otherwise a `dataclasses.replace` copy.
    """
    imgui.push_id(type(settings).__name__)
    changes = {}
    for spec in specs(type(settings)):
        changed, value = edit_value(spec, getattr(settings, spec.name))
        if changed:
            changes[spec.name] = value
    imgui.pop_id()
    return dataclasses.replace(settings, **changes) if changes else settings
