"""Process-level machinery: the settings a fer3d process runs with, and the worker processes it starts.

This package sits below every other fer3d package except ``config``: it imports none of them.
"""

from fer3d.runtime.process import ProcessSettings, configure_process

__all__ = ["ProcessSettings", "configure_process"]
