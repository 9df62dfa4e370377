"""copilot: a performer's co-pilot beside the DJ/DAW software they already trust."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flowfield-copilot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
