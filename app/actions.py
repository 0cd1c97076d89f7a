"""All menu/toolbar actions with their shortcuts, built in one place (no window logic here)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from app.tools import Tool

SCRIBBLE_HELP = ("Paint a few strokes on the class and a few with the Background brush; "
                 "unpainted pixels are ignored. An image with no Background strokes counts as "
                 "completely painted.")


@dataclass
class Actions:
    """The window's actions; slots are connected by the window."""

    open_folder: QAction
    open_demo: QAction
    export_labels: QAction
    import_labels: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    brush: QAction
    background: QAction
    eraser: QAction
    fill: QAction
    lasso: QAction
    box: QAction
    wand: QAction
    superpixel: QAction
    take_prediction: QAction
    bigger: QAction
    smaller: QAction
    fit: QAction
    actual: QAction
    zoom_in: QAction
    zoom_out: QAction
    show_predictions: QAction
    low_confidence: QAction
    next_image: QAction
    previous_image: QAction
    learn: QAction
    live: QAction
    auto_label: QAction
    refine: QAction
    flip_average: QAction
    review_next: QAction
    accept: QAction
    toggle_support: QAction
    unreview: QAction
    cancel_job: QAction


_SPECS: dict[str, tuple[str, list[str], str]] = {
    "open_folder": ("&Open folder…", ["Ctrl+O"], "Open a folder of images"),
    "open_demo": ("Open &demo images", [], "Copy the bundled nuclei images and open them"),
    "export_labels": ("&Export…", ["Ctrl+E"],
                      "Write the labels as PNG, COCO, YOLO-seg or labelme files"),
    "import_labels": ("&Import…", ["Ctrl+I"],
                      "Bring labels from COCO, YOLO-seg, labelme or PNG files in as examples"),
    "quit": ("&Quit", ["Ctrl+Q"], ""),
    "undo": ("&Undo", ["Ctrl+Z"], "Undo the last stroke on this image"),
    "redo": ("&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], "Redo"),
    "brush": ("&Brush", ["B"], "Paint the active class"),
    "background": ("Back&ground", ["G"],
                   "Paint background (what is not the class). " + SCRIBBLE_HELP),
    "eraser": ("&Eraser", ["E"],
               "Erase to not painted: erased pixels are ignored when learning"),
    "fill": ("&Fill", ["F"], "Flood fill an area with the active class"),
    "lasso": ("&Lasso fill", ["L"], "Drag around an area to fill it"),
    "box": ("Bo&x", ["X"], ("Drag a rectangle around an object: GrabCut fills the object "
                            "with the active class")),
    "wand": ("&Wand", ["W"], ("Click: the connected area of similar colour becomes the "
                              "active class (scroll, or drag sideways, to change the "
                              "tolerance)")),
    "superpixel": ("S&uperpixel brush", ["U"], ("Strokes fill whole superpixels (regions of "
                                                "similar colour) with the active class")),
    "take_prediction": ("&Take prediction", ["T"], ("Click a region of the model's "
                                                    "prediction (shown under your labels) to "
                                                    "copy it into your labels")),
    "bigger": ("Bigger brush", ["]"], ""),
    "smaller": ("Smaller brush", ["["], ""),
    "fit": ("&Fit to window", ["Ctrl+0"], ""),
    "actual": ("&100 %", ["Ctrl+1"], ""),
    "zoom_in": ("Zoom &in", ["Ctrl++", "Ctrl+="], ""),
    "zoom_out": ("Zoom &out", ["Ctrl+-"], ""),
    "show_predictions": ("Show &prediction", ["P"], "Show the model's output, not your labels"),
    "low_confidence": ("Show &low confidence", ["C"],
                       ("Yellow marks the pixels where the model's confidence is below 60 % "
                        "(its own estimate: confidently wrong pixels are not marked)")),
    "next_image": ("&Next image", ["PgDown", "D"], ""),
    "previous_image": ("&Previous image", ["PgUp", "A"], ""),
    "learn": ("&Learn class", ["Ctrl+L"], "Learn from the painted examples"),
    "live": ("Li&ve", ["V"], ("Learn while you paint: the overlay follows your strokes (short "
                              "rounds in the background; Learn class is still the full run)")),
    "auto_label": ("&Auto-label folder", ["Ctrl+Shift+L"], "Predict every unlabelled image"),
    "refine": ("&Refine on folder", ["Ctrl+Shift+R"],
               ("Continue learning on the model's confident predictions of this folder's "
                "unlabelled images (self-training), then auto-label again")),
    "flip_average": ("&Flip-averaged predictions", [],
                     ("Average each prediction over the image's mirror images: better labels "
                      "(+1 to +2 IoU points on the benchmark sets), ~3x slower on a CPU")),
    "review_next": ("&Review next", ["N"], "Go to the least confident prediction"),
    "accept": ("&Accept", ["Return", "Enter"], "Keep this prediction as the human label"),
    "toggle_support": ("Use as &example", ["S"], "Add or remove this image as an example"),
    "unreview": ("Mark as &not reviewed", [],
                 "Back to the model's prediction: the image is predicted again"),
    "cancel_job": ("&Cancel job", ["Escape"], "Stop learning or auto-labelling"),
}

TOOL_ACTIONS = {tool.value: tool for tool in Tool}  # action name = tool value
_CHECKABLE = {*TOOL_ACTIONS, "show_predictions", "low_confidence", "flip_average", "live"}


def build_actions(window: QMainWindow) -> tuple[Actions, QMenu]:
    """Create the actions (owned by ``window``) and the menus; returns the actions and the
    (empty) File > Open recent menu."""
    made: dict[str, QAction] = {}
    for name, (text, keys, tip) in _SPECS.items():
        action = QAction(text, window)
        action.setShortcuts([QKeySequence(k) for k in keys])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{text.replace('&', '')} ({keys[0]})" if keys else tip)
        action.setCheckable(name in _CHECKABLE)
        window.addAction(action)
        made[name] = action
    group = QActionGroup(window)
    for name in TOOL_ACTIONS:
        group.addAction(made[name])
    made["brush"].setChecked(True)
    actions = Actions(**{f.name: made[f.name] for f in fields(Actions)})
    return actions, _build_menus(window, actions)


def _build_menus(window: QMainWindow, a: Actions) -> QMenu:
    bar = window.menuBar()
    menus: list[tuple[str, list[QAction | None]]] = [
        ("&File", [a.open_folder, a.open_demo, None, a.export_labels, a.import_labels, None,
                   a.quit]),
        ("&Edit", [a.undo, a.redo]),
        ("&Tools", [a.brush, a.background, a.eraser, a.fill, a.lasso, None, a.box, a.wand,
                    a.superpixel, a.take_prediction, None, a.bigger, a.smaller]),
        ("&View", [a.fit, a.actual, a.zoom_in, a.zoom_out, None, a.show_predictions,
                   a.low_confidence, None, a.next_image, a.previous_image]),
        ("&Model", [a.learn, a.live, a.auto_label, a.refine, a.flip_average, None,
                    a.review_next, a.accept, a.toggle_support, a.unreview, None, a.cancel_job]),
    ]
    for title, items in menus:
        menu: QMenu = bar.addMenu(title)
        for item in items:
            if item is None:
                menu.addSeparator()
            else:
                menu.addAction(item)
    return bar.actions()[0].menu().addMenu("Open &recent")
