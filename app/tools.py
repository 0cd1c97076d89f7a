"""The canvas tools (what a left-button drag does) and how they group."""

from __future__ import annotations

from enum import Enum


class Tool(str, Enum):
    """What a left-button drag does on the canvas (values name the window's actions)."""

    BRUSH = "brush"
    BACKGROUND = "background"
    ERASER = "eraser"
    FILL = "fill"
    LASSO = "lasso"
    BOX = "box"
    WAND = "wand"
    SUPERPIXEL = "superpixel"
    TAKE = "take_prediction"


BRUSHES = frozenset({Tool.BRUSH, Tool.BACKGROUND, Tool.ERASER})  # paint a disc along the drag
SMART = frozenset({Tool.BOX, Tool.WAND, Tool.SUPERPIXEL, Tool.TAKE})  # app.smart_tools
SIZED = BRUSHES | {Tool.SUPERPIXEL}  # tools the brush size applies to (cursor circle)
