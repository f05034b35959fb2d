from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("experio_platform", "0002_config")]

    operations = [
        migrations.CreateModel(
            name="GraphOutbox",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("cypher", models.TextField(help_text="The idempotent statement to replay.")),
                (
                    "params",
                    models.JSONField(blank=True, default=dict, help_text="Canonical parameters."),
                ),
                (
                    "key",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="The uid(s) written, for operators.",
                        max_length=200,
                    ),
                ),
                (
                    "provider",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="Active provider when deferred.",
                        max_length=20,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "pending"),
                            ("applied", "applied"),
                            ("parked", "parked"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("last_error", models.TextField(blank=True, default="")),
                ("applied_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "graph outbox entry",
                "verbose_name_plural": "graph outbox",
                "ordering": ["id"],
                "indexes": [models.Index(fields=["status", "id"], name="graph_outbox_status_id")],
            },
        ),
        migrations.CreateModel(
            name="GraphMigrationRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        help_text="Provider and graph, no credentials.", max_length=300
                    ),
                ),
                (
                    "target",
                    models.CharField(
                        help_text="Provider and graph, no credentials.", max_length=300
                    ),
                ),
                ("mode", models.CharField(max_length=20)),
                (
                    "status",
                    models.CharField(
                        choices=[("running", "running"), ("finished", "finished")],
                        default="running",
                        max_length=10,
                    ),
                ),
                ("phase", models.CharField(blank=True, default="", max_length=20)),
                ("nodes_written", models.PositiveBigIntegerField(default=0)),
                ("relationships_written", models.PositiveBigIntegerField(default=0)),
                ("differences", models.PositiveIntegerField(default=0)),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["target", "status"], name="graph_migration_target")
                ],
            },
        ),
    ]
