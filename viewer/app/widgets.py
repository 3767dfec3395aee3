"""ImGui widgets generated from the setting descriptions (`viewer.setting_specs.specs`).

bool -> checkbox, choices -> combo, int/float with a range -> slider (logarithmic over wide
positive ranges; its value printed beside the bar, where the grab cannot hide it), without one ->
input field, 3-tuple in [0, 1] -> colour edit, other tuples -> drag fields. Each widget's tooltip
is the setting's help and unit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from imgui_bundle import imgui

from viewer.setting_specs import SettingSpec, specs

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")
LOG_SLIDER_RATIO = 100.0  # ranges spanning this factor or more get a logarithmic slider
MIN_BAR_WIDTH = 40.0  # a slider's bar is at least this wide, whatever its value's text
SLIDER_INT_LIMIT = 2**30 - 1  # ImGui's integer sliders take ranges within +-INT_MAX / 2


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
        slider = spec.range is not None and all(math.isfinite(v) for v in spec.range)
        if slider and spec.range is not None and spec.kind is int:  # too wide: a seed, say
            slider = max(abs(v) for v in spec.range) <= SLIDER_INT_LIMIT
        return f"{'slider' if slider else 'input'}_{spec.kind.__name__}"
    raise ValueError(f"{spec.name}: no widget edits {spec.kind.__name__} settings")


def _title(spec: SettingSpec) -> str:
    """The name as words, less a last word its value's unit already says (fov_y_degrees)."""
    words = spec.name.split("_")
    if spec.unit and len(words) > 1 and words[-1] == spec.unit.lower():
        words.pop()
    return " ".join(words)


def _label(spec: SettingSpec) -> str:
    return f"{_title(spec)}##{spec.name}"


def _slider_flags(spec: SettingSpec, lo: float, hi: float) -> int:
    flags = imgui.SliderFlags_.always_clamp.value
    if lo > 0 and hi / lo >= LOG_SLIDER_RATIO:
        flags |= imgui.SliderFlags_.logarithmic.value
    return flags


def _slider(
    draw: Callable[..., tuple[bool, Any]],
    spec: SettingSpec,
    value: Any,
    lo: Any,
    hi: Any,
    fmt: str,
) -> tuple[bool, Any]:
    """A slider bar without text, its value printed beside it, then its label.

    The bar's text is hidden by starting its format with "##" (ImGui draws nothing after "##"
    but still rounds and types, Ctrl+click, by the format). The bar takes the item width less
    the widest value's text, so labels line up with the other widgets'. A range of one value
    draws the slider disabled.
    """
    spacing = imgui.get_style().item_inner_spacing.x
    widest = max(imgui.calc_text_size(fmt % v).x for v in (lo, hi, value))
    start, full = imgui.get_cursor_pos_x(), imgui.calc_item_width()
    bar = max(full - widest - 2 * spacing, MIN_BAR_WIDTH)
    imgui.begin_group()
    imgui.set_next_item_width(bar)
    fixed = lo >= hi
    if fixed:
        imgui.begin_disabled()
    changed, new = draw(f"##{spec.name}", value, lo, hi, f"##{fmt}", _slider_flags(spec, lo, hi))
    if fixed:
        imgui.end_disabled()
    text = fmt % new
    imgui.same_line(start + bar + spacing + widest - imgui.calc_text_size(text).x)
    imgui.text(text)  # right-aligned, a gap before the label
    imgui.same_line(start + max(full, bar + 2 * spacing + widest) + spacing)
    imgui.text(_title(spec))
    imgui.end_group()
    return changed, new


def edit_value(
    spec: SettingSpec, value: Any, limit: tuple[float, float] | None = None
) -> tuple[bool, Any]:
    """Draw the widget for one setting; returns (changed, new value).

    Args:
        spec: the setting's description.
        value: its current value.
        limit: a narrower range for a slider than the setting's (the scene's SH degree): the
            slider offers only it and shows the value clamped to it; the value returned still
            changes only when the slider is moved.
    """
    kind = widget_kind(spec)
    label = _label(spec)
    unit = f" {spec.unit}" if spec.unit else ""
    lo, hi = limit or spec.range or (0.0, 0.0)
    new: Any
    if kind == "checkbox":
        changed, new = imgui.checkbox(label, bool(value))
    elif kind == "combo":
        choices = list(spec.choices or ())
        changed, index = imgui.combo(label, choices.index(value), choices)
        new = choices[index]
    elif kind == "slider_int":
        shown_int = min(max(int(value), int(lo)), int(hi))
        changed, new = _slider(imgui.slider_int, spec, shown_int, int(lo), int(hi), f"%d{unit}")
    elif kind == "slider_float":
        shown = min(max(float(value), lo), hi)
        changed, new = _slider(imgui.slider_float, spec, shown, lo, hi, f"%.3g{unit}")
    elif kind == "input_int":
        changed, new = imgui.input_int(label, int(value))
    elif kind == "input_float":
        changed, new = imgui.input_float(label, float(value))
        if spec.range is not None:  # a half-open range: [0, inf)
            new = min(max(new, lo), hi) if math.isfinite(new) else float(value)
    elif kind == "color":
        changed, rgb = imgui.color_edit3(label, [float(v) for v in value])
        new = tuple(min(max(float(v), 0.0), 1.0) for v in rgb)
    else:
        draw = getattr(imgui, f"drag_float{len(value)}")
        speed = max((hi - lo) / 500.0, 0.001)  # a drag across the field spans the range
        changed, values = draw(label, [float(v) for v in value], speed, lo, hi)
        new = tuple(float(v) for v in values)
    imgui.set_item_tooltip(f"{spec.help}{f' [{spec.unit}]' if spec.unit else ''}")
    return changed and new != value, new


def edit_settings(settings: T, limits: Mapping[str, tuple[float, float]] | None = None) -> T:
    """Draw one widget per field of a settings dataclass; returns the settings as edited.

    The same object comes back when nothing changed; otherwise a `dataclasses.replace` copy.
    `limits` narrows the sliders of the fields it names (see `edit_value`). A settings class
    may name the fields its current values make irrelevant (a method `unused() -> set[str]`,
    e.g. the budget under the tau cut); those get no widget.
    """
    imgui.push_id(type(settings).__name__)
    changes = {}
    unused = getattr(settings, "unused", None)
    hidden = unused() if unused is not None else set()
    for spec in specs(type(settings)):
        if spec.name in hidden:
            continue
        limit = (limits or {}).get(spec.name)
        changed, value = edit_value(spec, getattr(settings, spec.name), limit)
        if changed:
            changes[spec.name] = value
    imgui.pop_id()
    return dataclasses.replace(settings, **changes) if changes else settings
