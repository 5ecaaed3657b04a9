"""Moved to ``digitnet.web.export``; this name imports the very same module, so old code keeps working."""

import sys

from ..web import export as _moved

sys.modules[__name__] = _moved
