from django.apps import AppConfig


class ExperioPlatformConfig(AppConfig):
    name = "experio_platform"
    label = "experio_platform"
    verbose_name = "Experio platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registering system checks is the only thing done at start-up: no I/O, no threads.
        from experio_platform import checks

        checks.register_all()
