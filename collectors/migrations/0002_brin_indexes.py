from django.db import migrations

TABLES = ("collectors_gpusample", "collectors_inferencesample")


def create_brin(apps, schema_editor):
    # BRIN indexes are a PostgreSQL feature; on SQLite the (entity, ts) index serves.
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_ts_brin ON {table} USING brin (ts)"
        )


def drop_brin(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {table}_ts_brin")


class Migration(migrations.Migration):
    dependencies = [("collectors", "0001_initial")]
    operations = [migrations.RunPython(create_brin, drop_brin)]
