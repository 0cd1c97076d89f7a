"""Bottom layer: files and arrays, no torch.

Reading and decoding images and masks (``images``, ``decode``, ``paths``), atomic writes,
the working-size resize shared by learning and prediction (``resize``), what a label map
means (``labels``), the project on disk (``project``, ``lockfile``), label outputs
(``outputs``), support sets from folders (``supports``), bundled resources (``resources``)
and the label formats (``formats``).
"""
