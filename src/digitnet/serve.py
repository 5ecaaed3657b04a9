"""Moved to ``digitnet.web.serve``; this name imports the very same module, so old code keeps working."""

import sys

from .web import serve as _moved

sys.modules[__name__] = _moved
