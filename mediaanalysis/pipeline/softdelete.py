"""Soft delete: `deleted_at` is the only source of truth (docs/design.md, Soft delete).

Deleting a row stamps it and every live dependant (reverse foreign keys from other soft-delete
models: media file -> jobs and results -> reviews) with one and the same timestamp, in one
transaction. Restoring a row brings back exactly the dependants that carry its timestamp, so
rows that had been deleted earlier on their own stay deleted.

Written here rather than taken from django-safedelete or django-softdelete: those keep a
second flag or a change-set table, or restore every dependant; the timestamp match is the
whole mechanism and needs neither.
"""

from collections import Counter, defaultdict

from django.db import models, transaction
from django.db.models.functions import Now
from django.utils import timezone


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)

    def soft_delete(self, now=None) -> int:
        """Soft-delete these rows and their live dependants; return how many rows of this model."""
        now = now or timezone.now()
        with transaction.atomic():
            pks = list(self.alive().values_list("pk", flat=True))
            _stamp(self.model, pks, now)
        return len(pks)

    def restore(self) -> int:
        """Restore these rows and the dependants deleted together with each of them."""
        by_stamp = defaultdict(list)
        for pk, deleted_at in self.deleted().values_list("pk", "deleted_at"):
            by_stamp[deleted_at].append(pk)
        with transaction.atomic():
            for deleted_at, pks in by_stamp.items():
                _unstamp(self.model, pks, deleted_at)
        return sum(len(pks) for pks in by_stamp.values())


class AliveManager(models.Manager):
    """The default manager: soft-deleted rows are invisible."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class SoftDeleteModel(models.Model):
    """created_at, updated_at and deleted_at on every table, as the seed's BaseModel has."""

    # `default` serves the ORM (and a moved test clock); `db_default` serves plain SQL inserts
    # written against the seed's schema.
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AliveManager.from_queryset(SoftDeleteQuerySet)()
    all_objects = SoftDeleteQuerySet.as_manager()

    class Meta:
        abstract = True
        # A deleted row's parent must still resolve (result.job in the admin's deleted view).
        base_manager_name = "all_objects"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self, now=None) -> None:
        type(self).all_objects.filter(pk=self.pk).soft_delete(now)
        self.refresh_from_db(fields=["deleted_at"])

    def restore(self) -> None:
        type(self).all_objects.filter(pk=self.pk).restore()
        self.refresh_from_db(fields=["deleted_at"])

    def deleted_parent(self):
        """The first soft-deleted parent, if any: a row cannot come back before its parent."""
        for field in self._meta.concrete_fields:
            if field.many_to_one and issubclass(field.related_model, SoftDeleteModel):
                parent = getattr(self, field.name)
                if parent is not None and parent.deleted_at is not None:
                    return parent
        return None


def dependants(model):
    """(model, fk name) of every soft-delete model pointing at `model`.

    Not a model's links to its own rows (a second review's link to the first): those rows are
    reached through their own parent, which they share.
    """
    for rel in model._meta.related_objects:
        if (
            rel.one_to_many
            and issubclass(rel.related_model, SoftDeleteModel)
            and rel.related_model is not model
        ):
            yield rel.related_model, rel.field.name


def _cascade(model, pks, deleted_at=None, seen=None):
    """(model, pks) of these rows, then of every dependant that goes (or comes back) with them.

    Deleting (`deleted_at` None): the live dependants. Restoring: the dependants deleted at the
    very moment `deleted_at`. A row reached twice (a result is a child of its job and of its
    file) comes once.
    """
    seen = {} if seen is None else seen
    pks = [pk for pk in pks if pk not in seen.setdefault(model, set())]
    if not pks:
        return
    seen[model].update(pks)
    yield model, pks
    for child, fk in dependants(model):
        rows = child.all_objects.filter(**{f"{fk}__in": pks})
        rows = rows.alive() if deleted_at is None else rows.filter(deleted_at=deleted_at)
        yield from _cascade(child, list(rows.values_list("pk", flat=True)), deleted_at, seen)


def _stamp(model, pks, now) -> None:
    for rows_model, rows in list(_cascade(model, pks)):
        rows_model.all_objects.filter(pk__in=rows).update(deleted_at=now, updated_at=now)


def _unstamp(model, pks, deleted_at) -> None:
    """`pks` were deleted at `deleted_at`; they come back with what was deleted with them."""
    restored_at = timezone.now()
    for rows_model, rows in list(_cascade(model, pks, deleted_at)):
        rows_model.all_objects.filter(pk__in=rows, deleted_at=deleted_at).update(
            deleted_at=None, updated_at=restored_at
        )


def cascade_counts(queryset, *, restoring: bool = False) -> Counter:
    """How many rows of each model a soft delete of `queryset` would take with it, or a restore
    would bring back: the preview on the admin's delete page and the restore's message."""
    counts = Counter()
    if restoring:
        by_stamp = defaultdict(list)
        for pk, deleted_at in queryset.deleted().values_list("pk", "deleted_at"):
            by_stamp[deleted_at].append(pk)
        groups = by_stamp.items()
    else:
        groups = [(None, list(queryset.alive().values_list("pk", flat=True)))]
    for deleted_at, pks in groups:
        for model, rows in _cascade(queryset.model, pks, deleted_at):
            counts[model] += len(rows)
    return counts


def describe_cascade(counts: Counter, model) -> str:
    """“1 media file with 3 analysis jobs, 3 analysis results and 1 HITL review”."""

    def amount(m, n):
        return f"{n:,} {m._meta.verbose_name if n == 1 else m._meta.verbose_name_plural}"

    text = amount(model, counts.get(model, 0))
    others = [amount(m, n) for m, n in counts.items() if m is not model and n]
    if others:
        listed = others[0] if len(others) == 1 else ", ".join(others[:-1]) + " and " + others[-1]
        text += f" with {listed}"
    return text
