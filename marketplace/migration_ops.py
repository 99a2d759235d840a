"""Schema changes that a live PostgreSQL keeps serving through.

A plain AddIndex is `CREATE INDEX`, which holds writes to the table for the whole build: on a
production `jobs_item` of millions of rows every submit and claim would wait minutes. On
PostgreSQL `AddIndexOnline` builds with `CREATE INDEX CONCURRENTLY` (writes go on; the build
reads the table twice), so its migration must set `atomic = False`. Elsewhere (SQLite) it is a
plain AddIndex. The migration state is AddIndex's, so `makemigrations` sees no difference.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


class AddIndexOnline(migrations.AddIndex):
    """AddIndex built without holding writes on PostgreSQL (the migration sets atomic = False)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        if connection.in_atomic_block:
            raise RuntimeError(f"{self.index.name}: CREATE INDEX CONCURRENTLY needs the migration's atomic = False")
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(connection.alias, model):
            return
        # A concurrent build that failed (a deadlock, a cancel) leaves an INVALID index of that
        # name; drop it so running the migration again builds it afresh instead of failing.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                "WHERE c.relname = %s AND NOT x.indisvalid", [self.index.name])
            if cursor.fetchone():
                cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{self.index.name}"')
        schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            super().database_backwards(app_label, schema_editor, from_state, to_state)
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)

    def describe(self) -> str:
        return f"Create index {self.index.name} on {self.model_name} (concurrently on PostgreSQL)"
