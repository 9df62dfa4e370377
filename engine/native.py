"""The engine's LLVM intrinsics live on the bridge's floor (bridge/native.py): the JACK MIDI callback
uses the same three. Kept here so the kernels' imports and the kernel cache's source list stay as they are."""

from copilot.bridge.native import clock_ns, fence, voidptr

__all__ = ["clock_ns", "fence", "voidptr"]
