from django.db import migrations

# The rollup models now belong to telemetry (its 0001 takes them over, same tables):
# remove them from costs' picture only; the tables and their rows stay.


class Migration(migrations.Migration):
    dependencies = [
        ("costs", "0008_dialect_counts"),
        ("telemetry", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="GpuRollup"),
                migrations.DeleteModel(name="InferenceRollup"),
            ],
        ),
    ]
