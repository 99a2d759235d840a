from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0012_prelabels'),
    ]

    operations = [
        migrations.AddField(
            model_name='prelabelshown',
            name='blind',
            field=models.BooleanField(default=False),
        ),
    ]
