"""Django admin registrations live with their concern; importing them registers them."""

from experio_platform.config import admin as config_admin  # noqa: F401
from experio_platform.scaling import admin as scaling_admin  # noqa: F401
