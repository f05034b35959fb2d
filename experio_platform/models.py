"""The app's tables live with their concern; Django finds them through this module."""

from experio_platform.config.models import *  # noqa: F403
from experio_platform.graph.models import *  # noqa: F403
from experio_platform.scaling.models import *  # noqa: F403
