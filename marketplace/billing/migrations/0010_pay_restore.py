# A new ledger transaction kind: withdrawn pay restored by an upheld appeal (billing/restoring.py).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0009_gold_feedback_on'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgertransaction',
            name='kind',
            field=models.CharField(choices=[('topup', 'Top-up'), ('escrow_open', 'Escrow opened at publish'), ('escrow_add', 'Escrow added to a published job'), ('judgment_pay', 'Judgment paid'), ('judgment_pay_reverse', "Dropped judgment's pay withdrawn"), ('judgment_pay_restore', 'Withdrawn pay restored by an upheld appeal'), ('escrow_cover', 'Quorum covered pay the escrow could not'), ('job_settle', 'Job settled'), ('earnings_release', 'Earnings released'), ('payout_request', 'Payout requested'), ('payout_reject', 'Payout batch rejected'), ('payout_paid', 'Payout batch paid')], max_length=24),
        ),
    ]
