from django.apps import AppConfig


class EmailUserConfig(AppConfig):
    name = "tests.emailuser"
    label = "emailuser"
    default_auto_field = "django.db.models.BigAutoField"
