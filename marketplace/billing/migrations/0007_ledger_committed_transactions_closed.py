"""PostgreSQL: a committed ledger transaction takes no new entries.

Each transaction row records the database transaction that inserted it, in a column the
database fills (`created_xact`, not a Django field: only PostgreSQL has it, and nothing in
Quorum reads it). A trigger refuses an entry whose ledger transaction was inserted by another
database transaction, i.e. one already committed: ledger.post writes a transaction and its
entries together, so only tampering adds entries later. `pg_current_xact_id()` names the
top-level transaction, so savepoints (nested atomic blocks) do not matter. SQLite relies on the
model (LedgerEntry refuses entries for a posted transaction) and on `billing_audit`.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

FORWARD = """
ALTER TABLE billing_ledgertransaction
    ADD COLUMN created_xact xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE FUNCTION billing_entry_transaction_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT created_xact FROM billing_ledgertransaction WHERE id = NEW.transaction_id)
            IS DISTINCT FROM pg_current_xact_id() THEN
        RAISE EXCEPTION 'ledger transaction % is committed: it takes no new entries',
            NEW.transaction_id USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER billing_entry_transaction_open BEFORE INSERT ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_entry_transaction_open();
"""

BACKWARD = """
DROP TRIGGER billing_entry_transaction_open ON billing_ledgerentry;
DROP FUNCTION billing_entry_transaction_open();
ALTER TABLE billing_ledgertransaction DROP COLUMN created_xact;
"""


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_payout_idempotency_key")]
    operations = [migrations.RunPython(forward, backward)]
