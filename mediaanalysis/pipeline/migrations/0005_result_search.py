# Full-text search over results (docs/search.md): on PostgreSQL a stored generated tsvector
# column with a GIN index; on SQLite an FTS5 external-content table kept in step by triggers.

import mediaanalysis.pipeline.search
from django.db import migrations


def create_search_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX idx_result_search ON analysis_results USING gin (search_vector)"
        )
    else:
        mediaanalysis.pipeline.search.ensure_sqlite_index(connection)


def drop_search_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS idx_result_search")
    else:
        mediaanalysis.pipeline.search.drop_sqlite_index(connection)


class Migration(migrations.Migration):

    dependencies = [
        ('mediaanalysis', '0004_idempotency_keys'),
    ]

    operations = [
        migrations.AddField(
            model_name='analysisresult',
            name='search_vector',
            field=mediaanalysis.pipeline.search.SearchVectorColumn(db_persist=True, expression=mediaanalysis.pipeline.search.SearchDocument(), output_field=mediaanalysis.pipeline.search.TsVectorField()),
        ),
        migrations.RunPython(create_search_index, drop_search_index, elidable=False),
    ]
