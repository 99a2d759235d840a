# Collusion flags: pairs of workers whose answers or timing agree far beyond chance, for review (issue 15).
# Depends on 0005 for now; the integrator points it at 0006 (written by another branch).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0007_instructions_versions'),
        ('quality', '0006_appeals'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CollusionFlag',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('by_agreement', models.BooleanField(default=False)),
                ('by_timing', models.BooleanField(default=False)),
                ('p_value', models.FloatField()),
                ('evidence', models.JSONField(default=dict)),
                ('status', models.CharField(choices=[('open', 'Open'), ('dismissed', 'Dismissed'), ('confirmed', 'Confirmed')], default='open', max_length=10)),
                ('reviewed_at', models.DateTimeField(blank=True, null=True)),
                ('review_note', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='collusion_flags', to='jobs.job')),
                ('reviewed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='quality.consensusrun')),
                ('worker_a', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('worker_b', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['status', 'p_value'], name='collusion_flag_status')],
                'constraints': [models.UniqueConstraint(fields=('job', 'worker_a', 'worker_b'), name='one_collusion_flag_per_pair'), models.CheckConstraint(condition=models.Q(('worker_a__lt', models.F('worker_b'))), name='collusion_pair_in_id_order')],
            },
        ),
    ]
