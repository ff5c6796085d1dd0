from django import forms


class BulkJobsForm(forms.Form):
    """Act on jobs: the ticked ids (or the one of a job page), or every job of a list filter."""

    scope = forms.ChoiceField(choices=[("selected", "the ticked jobs"), ("filter", "the filter")])
    query = forms.CharField(required=False, max_length=4000)
    # A whole filter is acted on only once its count has been shown and confirmed.
    confirm = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        raw_ids = self.data.getlist("job") if hasattr(self.data, "getlist") else []
        try:
            cleaned["job_ids"] = [int(value) for value in raw_ids if 0 < int(value) < 2**31]
        except ValueError:
            raise forms.ValidationError("Job ids must be whole numbers.") from None
        if cleaned.get("scope") == "selected" and not cleaned["job_ids"]:
            raise forms.ValidationError("Tick at least one job first.")
        return cleaned
