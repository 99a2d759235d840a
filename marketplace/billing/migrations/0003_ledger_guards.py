"""PostgreSQL guards on the ledger (SQLite relies on the posting function and the audit):

- a deferred constraint trigger refuses, at commit, a transaction whose entries do not sum to 0;
- entries and transactions are append-only: UPDATE and DELETE raise.
TRUNCATE (test teardown) is statement-level and not affected.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

FORWARD = """
CREATE FUNCTION billing_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COALESCE(SUM(amount), 0) FROM billing_ledgerentry
        WHERE transaction_id = NEW.transaction_id) <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER billing_entries_balanced AFTER INSERT ON billing_ledgerentry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_entries_balanced();

CREATE FUNCTION billing_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER billing_entry_append_only BEFORE UPDATE OR DELETE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_append_only();
CREATE TRIGGER billing_transaction_append_only BEFORE UPDATE OR DELETE ON billing_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION billing_append_only();
"""

BACKWARD = """
DROP TRIGGER billing_transaction_append_only ON billing_ledgertransaction;
DROP TRIGGER billing_entry_append_only ON billing_ledgerentry;
DROP FUNCTION billing_append_only();
DROP TRIGGER billing_entries_balanced ON billing_ledgerentry;
DROP FUNCTION billing_entries_balanced();
"""


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_seed_tiers")]
    operations = [migrations.RunPython(forward, backward)]
