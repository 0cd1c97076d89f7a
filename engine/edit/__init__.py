"""Qt-free editing models of the app: the paintable mask document with undo and the smart
selections (box, magic wand, superpixels, predicted component).  Imports :mod:`engine.io` only."""
