"""db.insert: a new row saved as save() saves it, with its INSERT compiled once (the API's new
result writes three rows with it: the result, its webhook event and the dispatch task)."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Now
from django.db.models.signals import post_save, pre_save
from django.db.models.sql.compiler import SQLInsertCompiler
from django_tasks_db.models import DBTaskResult

from mediaanalysis.db import insert
from mediaanalysis.pipeline.models import AnalysisResult
from mediaanalysis.webhooks import services as webhooks
from mediaanalysis.webhooks.models import Event
from reviews.models import HITLReview
from tests.conftest import count_calls, make_job

pytestmark = pytest.mark.django_db


def new_result(**fields) -> AnalysisResult:
    fields.setdefault("confidence_score", 0.9)
    return AnalysisResult(
        job=make_job(status="completed", progress=1.0),
        analysis_type="audio",
        model_used="whisper-large-v3",
        **fields,
    )


def columns(obj) -> dict:
    """The row as stored, field by field (the search column left out)."""
    stored = type(obj)._base_manager.get(pk=obj.pk)
    return {
        f.attname: getattr(stored, f.attname) for f in obj._meta.concrete_fields if not f.generated
    }


def test_a_row_is_stored_and_read_back_as_save_stores_it():
    data = {"result_data": {"text": "Hallo <b>", "nested": [1, 2.5, None]}, "segments": []}
    saved, inserted = new_result(**data), new_result(**data)
    saved.save(force_insert=True)
    assert insert(inserted) is inserted
    assert inserted.pk and inserted.pk != saved.pk
    assert not inserted._state.adding and inserted._state.db == "default"
    assert inserted.created_at and inserted.updated_at  # the values the database returned
    stored, expected = columns(inserted), columns(saved)
    for differs in ("id", "job_id", "created_at", "updated_at"):
        stored.pop(differs), expected.pop(differs)
    assert stored == expected
    assert columns(inserted)["created_at"] == inserted.created_at


def test_the_statement_is_compiled_once_per_model(monkeypatch):
    insert(new_result())
    compiled = count_calls(monkeypatch, SQLInsertCompiler, "as_sql")
    for _ in range(3):
        insert(new_result())
    assert [c for c in compiled if c.query.model is AnalysisResult] == []
    assert AnalysisResult.objects.count() == 4


def test_the_signals_are_sent_so_a_doubtful_result_goes_to_review():
    sent = []

    def record(signal):
        def receiver(sender, instance, **kwargs):
            sent.append((signal, instance.pk, kwargs.get("created")))

        return receiver

    before, after = record("pre_save"), record("post_save")
    pre_save.connect(before, sender=AnalysisResult)
    post_save.connect(after, sender=AnalysisResult)
    try:
        result = insert(new_result(confidence_score=0.1))
    finally:
        pre_save.disconnect(before, sender=AnalysisResult)
        post_save.disconnect(after, sender=AnalysisResult)
    assert sent == [("pre_save", None, None), ("post_save", result.pk, True)]
    assert HITLReview.objects.filter(analysis_result=result).count() == 1


def test_a_database_default_is_left_to_the_database_and_returned():
    event = insert(Event(type="result.created", data={"id": 1}))
    assert event.txid is not None  # the transaction's id, given by the database
    assert Event.objects.get(pk=event.pk).txid == event.txid


def test_a_value_that_is_an_expression_is_inserted_by_the_orm():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = insert(new_result(created_at=Value(moment), confidence_score=Value(0.75)))
    stored = AnalysisResult.objects.get(pk=result.pk)
    assert stored.created_at == moment and stored.confidence_score == 0.75
    assert result.created_at == moment  # returned by the database, not the expression
    after = insert(new_result(created_at=Now()))
    assert isinstance(after.created_at, datetime)
    assert insert(new_result()).pk > after.pk  # the compiled statement still serves


def test_an_event_and_its_dispatch_task_are_written_by_the_compiled_inserts(monkeypatch):
    webhooks.emit("result.created", {"id": 1})  # compiles both
    compiled = count_calls(monkeypatch, SQLInsertCompiler, "as_sql")
    event = webhooks.emit("result.created", {"id": 2})
    assert compiled == []  # neither the event's nor the task's
    task = DBTaskResult.objects.get(args_kwargs__args=[[event.pk]])
    assert task.task_path == "mediaanalysis.webhooks.tasks.dispatch"
    assert task.status == "READY" and task.backend_name == "default"


def test_a_failed_insert_marks_its_transaction_for_rollback_as_save_does():
    event = insert(Event(type="result.created", data={"id": 1}))
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            insert(Event(pk=event.pk, type="result.created", data={"id": 2}))
        assert transaction.get_connection().needs_rollback


def test_a_key_set_by_a_pre_save_receiver_is_the_rows_key():
    def give_a_key(sender, instance, **kwargs):
        instance.pk = 777_000

    pre_save.connect(give_a_key, sender=Event)
    try:
        event = insert(Event(type="result.created", data={"id": 1}))
    finally:
        pre_save.disconnect(give_a_key, sender=Event)
    assert event.pk == 777_000 and Event.objects.filter(pk=777_000).exists()
