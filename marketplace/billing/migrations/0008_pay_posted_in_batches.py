# Pay posted to the ledger in batches: every earning so far was posted when it was made.

from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0007_ledger_committed_transactions_closed'),
        ('jobs', '0004_job_terms_fixed_at_publish'),
        ('labeling', '0002_judgment_judgment_job_worker_recent'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='earning',
            name='posted_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='jobbudget',
            name='covered',
            field=models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=14),
        ),
        # Every earning made before this migration was posted by its own submit.
        migrations.RunSQL(
            "UPDATE billing_earning SET posted_at = created_at", reverse_sql=migrations.RunSQL.noop
        ),
        migrations.AlterField(
            model_name='ledgertransaction',
            name='kind',
            field=models.CharField(choices=[('topup', 'Top-up'), ('escrow_open', 'Escrow opened at publish'), ('escrow_add', 'Escrow added to a published job'), ('judgment_pay', 'Judgment paid'), ('judgment_pay_reverse', "Dropped judgment's pay withdrawn"), ('escrow_cover', 'Quorum covered pay the escrow could not'), ('job_settle', 'Job settled'), ('earnings_release', 'Earnings released'), ('payout_request', 'Payout requested'), ('payout_reject', 'Payout batch rejected'), ('payout_paid', 'Payout batch paid')], max_length=24),
        ),
        migrations.AddIndex(
            model_name='earning',
            index=models.Index(condition=models.Q(('posted_at__isnull', True)), fields=['job', 'id'], name='earning_unposted'),
        ),
    ]
