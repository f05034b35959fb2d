from django.db import migrations, models

SOURCES = [
    ("default", "registry default"),
    ("settings", "host Django setting (CONFIG_OVERRIDES)"),
    ("env", "environment"),
    ("admin", "admin"),
    ("cli", "command line / API"),
]


class Migration(migrations.Migration):
    dependencies = [("experio_platform", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="ConfigChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(db_index=True, max_length=100)),
                ("action", models.CharField(max_length=10)),
                ("source", models.CharField(choices=SOURCES, max_length=10)),
                ("old_fingerprint", models.CharField(blank=True, default="", max_length=64)),
                ("new_fingerprint", models.CharField(blank=True, default="", max_length=64)),
                ("old_display", models.TextField(blank=True, default="")),
                ("new_display", models.TextField(blank=True, default="")),
                ("actor", models.CharField(blank=True, default="", max_length=150)),
                ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
            ],
            options={"verbose_name": "setting change", "ordering": ["-at", "-id"]},
        ),
        migrations.CreateModel(
            name="ConfigEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=100, unique=True)),
                ("value", models.JSONField(blank=True, null=True)),
                ("ciphertext", models.TextField(blank=True, default="")),
                ("is_secret", models.BooleanField(default=False)),
                ("source", models.CharField(choices=SOURCES, default="default", max_length=10)),
                ("fingerprint", models.CharField(blank=True, default="", max_length=64)),
                ("version", models.PositiveIntegerField(default=1)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("updated_by", models.CharField(blank=True, default="", max_length=150)),
            ],
            options={"verbose_name": "setting", "verbose_name_plural": "settings", "ordering": ["key"]},
        ),
        migrations.CreateModel(
            name="ConfigState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.BigIntegerField(default=0)),
                ("epoch", models.CharField(blank=True, default="", max_length=32)),
            ],
            options={"verbose_name": "settings version"},
        ),
    ]
