"""Append-only models: rows are created, never updated or deleted through the ORM.

Audit events and verification attempts are evidence. The ORM refuses to change them here; on
PostgreSQL a trigger refuses it in the database too (see the migrations).
"""

from typing import Any, NoReturn

from django.db import models


class AppendOnlyError(Exception):
    """An attempt to update or delete an append-only row."""


def _refuse(model: type[models.Model], operation: str) -> NoReturn:
    raise AppendOnlyError(f"{model.__name__} rows are append-only: {operation} is refused")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        _refuse(self.model, "update")

    def delete(self) -> NoReturn:
        _refuse(self.model, "delete")

    def bulk_update(self, objs: Any, fields: Any, batch_size: Any = None) -> NoReturn:
        _refuse(self.model, "bulk_update")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self.model, "update_or_create")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse(type(self), "save of an existing row")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(type(self), "delete")


# PostgreSQL: the database itself refuses UPDATE and DELETE on append-only tables. The retention
# purge (audit events past their legal period) sets `vigie.allow_purge` for its own transaction
# and may then DELETE, never UPDATE. TRUNCATE (test database flushes) is not affected.
_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION vigie_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('vigie.allow_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install_append_only_trigger(schema_editor: Any, table: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(_TRIGGER_FUNCTION, params=None)
    schema_editor.execute(
        f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION vigie_refuse_change()"
    )


def remove_append_only_trigger(schema_editor: Any, table: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
