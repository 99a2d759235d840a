# Appeals of automatic blocks and gold answers, and the admin review of large pay withdrawals.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0007_instructions_versions'),
        ('labeling', '0003_instructions_version'),
        ('quality', '0005_data_browser'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='qualityevent',
            name='kind',
            field=models.CharField(choices=[('blocked', 'Blocked from the job'), ('unblocked', 'Unblocked'), ('flagged_fast', 'Flagged: answers too fast'), ('relabeled', 'Judgments dropped and items reopened'), ('expert_queued', 'Item sent to expert review'), ('withdrawal_held', "Pay withdrawal held for an admin's review"), ('appeal_decided', 'Appeal decided')], max_length=20),
        ),
        migrations.CreateModel(
            name='Appeal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('block', 'Automatic block'), ('gold', 'Gold answer')], max_length=8)),
                ('subject', models.CharField(max_length=40)),
                ('reason', models.TextField()),
                ('status', models.CharField(choices=[('open', 'Waiting for a decision'), ('upheld', 'Upheld'), ('rejected', 'Rejected')], default='open', max_length=10)),
                ('decision_note', models.TextField(blank=True)),
                ('gold_action', models.CharField(blank=True, max_length=10)),
                ('gold_label', models.CharField(blank=True, max_length=64)),
                ('outcome', models.JSONField(default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('block_event', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='quality.qualityevent')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='appeals', to='jobs.job')),
                ('judgment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='labeling.judgment')),
                ('worker', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='appeals', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['job', 'status', '-id'], name='appeal_job_status'), models.Index(fields=['worker', '-id'], name='appeal_worker')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'open')), fields=('worker', 'subject'), name='one_open_appeal_per_subject')],
            },
        ),
        migrations.CreateModel(
            name='WithdrawalReview',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('amount', models.DecimalField(decimal_places=2, max_digits=14)),
                ('earned', models.DecimalField(decimal_places=2, max_digits=14)),
                ('status', models.CharField(choices=[('pending', 'Waiting for an admin'), ('approved', 'Withdrawn'), ('dismissed', 'Pay kept')], default='pending', max_length=10)),
                ('note', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='jobs.job')),
                ('worker', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('job', 'worker'), name='one_pending_withdrawal_review')],
            },
        ),
    ]
