"""The help window: every shortcut and mouse gesture, from `viewer.app.shortcuts`."""

from __future__ import annotations

from imgui_bundle import imgui

from viewer.app.shortcuts import help_rows


def draw_help() -> bool:
    """Draw the help window; returns False once the user closed it."""
    viewport = imgui.get_main_viewport()
    imgui.set_next_window_pos(viewport.get_center(), imgui.Cond_.appearing, imgui.ImVec2(0.5, 0.5))
    _, still_open = imgui.begin("Shortcuts", True, imgui.WindowFlags_.always_auto_resize.value)
    flags = imgui.TableFlags_.row_bg.value | imgui.TableFlags_.borders_inner_v.value
    if imgui.begin_table("shortcuts", 2, flags):
        for keys, description in help_rows():
            imgui.table_next_row()
            imgui.table_next_column()
            imgui.text(keys)
            imgui.table_next_column()
            imgui.text(description)
        imgui.end_table()
    imgui.end()
    return bool(still_open)
