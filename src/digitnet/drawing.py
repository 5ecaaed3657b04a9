"""Moved to ``digitnet.web.drawing``; this name imports the very same module, so old code keeps working."""

import sys

from .web import drawing as _moved

sys.modules[__name__] = _moved
