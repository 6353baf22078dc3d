from django.db import migrations

# CapacityEstimate now belongs to telemetry (its 0001 takes it over, same table):
# remove it from economics' picture only; the table and its rows stay.


class Migration(migrations.Migration):
    dependencies = [
        ("economics", "0001_initial"),
        ("telemetry", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="CapacityEstimate")],
        ),
    ]
