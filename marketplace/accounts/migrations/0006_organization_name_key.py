# Organization.name_key: the form under which two organization names read as one (NFKC,
# case-folded, letters, digits and marks only), unique, so "ACME-VISION" or "ＡＣＭＥ Vision" can no
# longer be signed up beside "Acme Vision".
#
# Existing rows: the oldest organization of each key gets it; a later one that reads the same (a
# duplicate signed up before this check, or made directly by a script) keeps its name and rows
# and gets no key (null, which the unique index allows many of). Nothing is renamed or merged:
# jobs, invoices and ledger accounts hang on those rows, and only their people can say whether
# two of them are one company. New sign-ups and admin renames are checked against every key.
# Staff find such pairs with: SELECT name FROM accounts_organization WHERE name_key IS NULL.

import unicodedata

from django.db import migrations, models

KEY_MAX_CHARS = 600


def _key(name: str) -> str:
    """marketplace.names.name_key as of this migration (frozen here: migrations do not follow
    the code's later changes)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return "".join(c for c in folded if unicodedata.category(c)[0] in ("L", "N", "M"))


def _fill_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    Organization = apps.get_model("accounts", "Organization")
    seen: set[str] = set()
    for org in Organization.objects.order_by("id").only("id", "name").iterator():
        key = _key(org.name)
        if key and len(key) <= KEY_MAX_CHARS and key not in seen:
            seen.add(key)
            Organization.objects.filter(pk=org.pk).update(name_key=key)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_suspension_history")]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="name_key",
            field=models.CharField(blank=True, editable=False, max_length=KEY_MAX_CHARS, null=True),
        ),
        migrations.RunPython(_fill_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="organization",
            constraint=models.UniqueConstraint(fields=("name_key",), name="organization_name_key_unique"),
        ),
    ]
