from django.urls import path

from . import views

urlpatterns = [
    path("", views.queue, name="review-queue"),
    path("claim-next/", views.claim_next, name="review-claim-next"),
    path("enqueue/", views.enqueue, name="review-enqueue"),
    path("enqueue/<int:pk>/undo/", views.undo_enqueue, name="review-enqueue-undo"),
    path("<int:pk>/", views.review_detail, name="review-detail"),
    path("<int:pk>/claim/", views.claim, name="review-claim"),
    path("<int:pk>/decide/", views.decide, name="review-decide"),
    path("<int:pk>/release/", views.release, name="review-release"),
    path("<int:pk>/heartbeat/", views.heartbeat, name="review-heartbeat"),
    path("<int:pk>/diff/", views.corrections_diff, name="review-diff"),
]
