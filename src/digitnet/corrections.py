"""Moved to ``digitnet.web.corrections``; this name imports the very same module, so old code keeps working."""

import sys

from .web import corrections as _moved

sys.modules[__name__] = _moved
