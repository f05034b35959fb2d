import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from experio_platform.compat import check_constraint


class Migration(migrations.Migration):
    dependencies = [
        ("experio_platform", "0003_graph"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ScalerLease',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=64, unique=True)),
                ('holder', models.CharField(blank=True, max_length=128)),
                ('epoch', models.BigIntegerField(default=0)),
                ('acquired_at', models.DateTimeField(null=True)),
                ('renewed_at', models.DateTimeField(null=True)),
                ('expires_at', models.DateTimeField(null=True)),
            ],
        ),
        migrations.CreateModel(
            name='ServiceConfiguration',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.SlugField(help_text="Stable name, e.g. 'parser'.", max_length=64, unique=True)),
                ('display_name', models.CharField(blank=True, max_length=128)),
                ('platform_resource', models.CharField(help_text="Omnistrate resource alias/id, or Kubernetes 'deployment/NAME' ('statefulset/NAME', optionally 'NAMESPACE/KIND/NAME'). Defaults to the compose service name.", max_length=255, unique=True)),
                ('mode', models.CharField(choices=[('keep_alive', 'Keep alive'), ('keep_down', 'Keep down'), ('auto', 'Auto (queue-driven)'), ('paused', 'Paused (observe only)')], default='auto', max_length=16)),
                ('previous_mode', models.CharField(blank=True, choices=[('keep_alive', 'Keep alive'), ('keep_down', 'Keep down'), ('auto', 'Auto (queue-driven)'), ('paused', 'Paused (observe only)')], help_text='The mode Resume restores (set by Pause).', max_length=16)),
                ('pinned_replicas', models.PositiveIntegerField(default=0, help_text='Replicas in keep_alive mode (>= 1).')),
                ('keep_alive_until', models.DateTimeField(blank=True, help_text='keep_alive reverts to keep_down after this time (empty: no expiry).', null=True)),
                ('queues', models.JSONField(blank=True, default=list, help_text='RabbitMQ queues that feed this worker (auto mode).')),
                ('min_replicas', models.PositiveIntegerField(default=0)),
                ('max_replicas', models.PositiveIntegerField(default=4)),
                ('target_messages_per_replica', models.PositiveIntegerField(default=20)),
                ('activation_threshold', models.PositiveIntegerField(default=0, help_text='From zero, scale up when more than this many messages are ready.')),
                ('idle_seconds_before_zero', models.PositiveIntegerField(default=600)),
                ('min_warm_seconds', models.PositiveIntegerField(default=300, help_text='A service that came up stays up at least this long.')),
                ('scale_down_window_seconds', models.PositiveIntegerField(default=300, help_text='Scale down to the highest recommendation of this rolling window, and not within this long after a scale-up.')),
                ('max_scale_up_step', models.PositiveIntegerField(default=4, help_text='Replicas added per pass.')),
                ('max_scale_down_step', models.PositiveIntegerField(default=1, help_text='Replicas removed per pass.')),
                ('scale_down_only_when_idle', models.BooleanField(default=True, help_text='Scale down only when no message is unacknowledged (the platform picks which replica stops; a busy one would lose its job). Off: never below the unacked count.')),
                ('dry_run', models.BooleanField(default=False, help_text='Decide and log, never call the platform.')),
                ('observed_replicas', models.IntegerField(blank=True, null=True)),
                ('platform_status', models.CharField(blank=True, max_length=32)),
                ('observed_at', models.DateTimeField(blank=True, null=True)),
                ('last_action', models.CharField(blank=True, max_length=255)),
                ('last_action_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('last_error_at', models.DateTimeField(blank=True, null=True)),
                ('consecutive_errors', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, help_text='Backoff after errors: not retried before this time.', null=True)),
                ('controller_state', models.JSONField(blank=True, default=dict)),
                ('pending_operation', models.JSONField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name': 'service configuration',
                'ordering': ['key'],
                'constraints': [check_constraint(condition=models.Q(('min_replicas__lte', models.F('max_replicas'))), name='scaling_min_lte_max', violation_error_message='Minimum replicas must not exceed maximum replicas.'), check_constraint(condition=models.Q(models.Q(('mode', 'keep_alive'), _negated=True), ('pinned_replicas__gte', 1), _connector='OR'), name='scaling_keep_alive_gte_1', violation_error_message='keep_alive needs at least 1 pinned replica.'), check_constraint(condition=models.Q(models.Q(('mode', 'keep_alive'), _negated=True), models.Q(('pinned_replicas__gte', models.F('min_replicas')), ('pinned_replicas__lte', models.F('max_replicas'))), _connector='OR'), name='scaling_pinned_within_bounds', violation_error_message='Pinned replicas must lie between minimum and maximum.'), check_constraint(condition=models.Q(('target_messages_per_replica__gte', 1)), name='scaling_target_gte_1', violation_error_message='Target messages per replica must be at least 1.'), check_constraint(condition=models.Q(('max_scale_up_step__gte', 1), ('max_scale_down_step__gte', 1)), name='scaling_steps_gte_1', violation_error_message='Step limits must be at least 1.')],
            },
        ),
        migrations.CreateModel(
            name='ScalingDecision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('decided_at', models.DateTimeField(db_index=True)),
                ('holder', models.CharField(blank=True, help_text='Sidecar instance.', max_length=128)),
                ('epoch', models.BigIntegerField(default=0, help_text='Leader lease epoch (fencing token).')),
                ('backend', models.CharField(max_length=32)),
                ('mode', models.CharField(max_length=16)),
                ('observed_replicas', models.IntegerField(null=True)),
                ('desired_replicas', models.IntegerField()),
                ('outcome', models.CharField(help_text='applied, dry_run, busy, pending, error, fenced', max_length=16)),
                ('queue_snapshot', models.JSONField(default=dict)),
                ('reasons', models.JSONField(default=list)),
                ('error', models.TextField(blank=True)),
                ('service', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='decisions', to='experio_platform.serviceconfiguration')),
            ],
            options={
                'ordering': ['-decided_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ServiceConfigurationChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('service_key', models.CharField(db_index=True, max_length=64)),
                ('changed_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('actor', models.CharField(help_text="Username, or 'seed' / 'api' / 'scaler'.", max_length=150)),
                ('source', models.CharField(help_text='admin, api, seed, scaler, shell.', max_length=32)),
                ('reason', models.TextField(blank=True)),
                ('changes', models.JSONField(default=dict, help_text='{field: [old, new]}')),
                ('changed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                ('service', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='changes', to='experio_platform.serviceconfiguration')),
            ],
            options={
                'ordering': ['-changed_at', '-id'],
            },
        ),
    ]
