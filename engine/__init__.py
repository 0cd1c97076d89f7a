"""DistillFSS Studio engine: learn a segmentation class from a few masks, label a folder.

Qt-free.  Long work is a generator that yields progress records and can be stopped between
yields; the CLI and the GUI are thin callers of the same generators.
"""

__version__ = "0.1.0"
