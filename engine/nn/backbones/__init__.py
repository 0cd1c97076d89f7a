"""Registry of frozen feature backbones.

A backbone is an ``nn.Module`` whose ``forward(x)`` takes a normalised ``(B, 3, H, W)`` float
tensor (H, W multiples of 32) and returns a list of tap feature maps, one per entry of its
``taps`` (:class:`TapSpec`).  Register new ones with :func:`register_backbone`; nothing else in
the engine needs to change.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import Backbone, TapSpec

_REGISTRY: dict[str, Callable[..., Backbone]] = {}


def register_backbone(name: str, builder: Callable[..., Backbone]) -> None:
    """Register ``builder(**kwargs) -> Backbone`` under ``name``."""
    _REGISTRY[name] = builder


def available_backbones() -> list[str]:
    """Names of the registered backbones."""
    return sorted(_REGISTRY)


def build_backbone(name: str, **kwargs) -> Backbone:
    """Build a registered backbone with its weights loaded, frozen and in eval mode."""
    if name not in _REGISTRY:
        known = ", ".join(available_backbones())
        raise ValueError(f"unknown backbone {name!r}; available: {known}")
    return _REGISTRY[name](**kwargs).freeze()


def _register_defaults() -> None:
    from . import efficientnet_lite, resnet

    register_backbone("efficientnet_lite0", efficientnet_lite.build_lite0)
    # weights from the optional extra ``lite2``; building it without them raises ValueError
    register_backbone("efficientnet_lite2", efficientnet_lite.build_lite2)
    register_backbone("resnet50", resnet.build_resnet50)


_register_defaults()

__all__ = ["Backbone", "TapSpec", "available_backbones", "build_backbone", "register_backbone"]
