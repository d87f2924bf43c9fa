"""The embedded local runtime: every service as a supervised process on this machine."""

from .config import LocalConfig
from .runtime import ComponentStatus, LocalRuntime

__all__ = ["ComponentStatus", "LocalConfig", "LocalRuntime"]
