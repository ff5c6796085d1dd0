"""The pipeline's webhook events (docs/webhooks.md): each written in the transaction of the
change it reports, by the API operation that makes it."""

from mediaanalysis.webhooks.models import EventType
from mediaanalysis.webhooks.services import emit

from .models import AnalysisJob, AnalysisResult, ProcessingStatus

FINISHED = {
    ProcessingStatus.COMPLETED: EventType.JOB_COMPLETED,
    ProcessingStatus.FAILED: EventType.JOB_FAILED,
}


def job_changed(previous_status: str, job: AnalysisJob) -> AnalysisJob:
    """job.completed or job.failed when the job has just become so; returns the job."""
    if job.status != previous_status and job.status in FINISHED:
        emit(
            FINISHED[job.status],
            {
                "job_id": job.pk,
                "status": job.status,
                "job_type": job.job_type,
                "session_id": job.session_id,
                "media_file_id": job.media_file_id,
                "error_message": job.error_message,
                "retry_count": job.retry_count,
                "max_retries": job.max_retries,
                "started_at": job.started_at,
                "completed_at": job.completed_at,
                "version": job.updated_at,
            },
        )
    return job


def result_created(result: AnalysisResult) -> AnalysisResult:
    emit(
        EventType.RESULT_CREATED,
        {
            "result_id": result.pk,
            "job_id": result.job_id,
            "media_file_id": result.media_file_id,
            "analysis_type": result.analysis_type,
            "model_used": result.model_used,
            "confidence_score": result.confidence_score,
            "created_at": result.created_at,
            "version": result.updated_at,
        },
    )
    return result
