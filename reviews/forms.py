from django import forms

from mediaanalysis.validation import check_json, loads_json

from .models import Decision

NOTES_MAX = 20_000
CORRECTIONS_MAX = 200_000


class DecisionForm(forms.Form):
    approved = forms.ChoiceField(
        choices=Decision.choices, widget=forms.RadioSelect, label="Decision"
    )
    reviewer_notes = forms.CharField(
        required=False,
        max_length=NOTES_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Notes",
    )
    corrections = forms.CharField(
        required=False,
        max_length=CORRECTIONS_MAX,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
        label="Corrections (JSON object)",
        help_text='Only the keys that change, e.g. {"language": "de"}. null removes a key.',
    )

    def clean_corrections(self):
        return parse_corrections(self.cleaned_data["corrections"])


def typed_so_far(data) -> tuple[str, str]:
    """The notes and corrections text a reviewer has typed so far (the heartbeat's draft, the
    live diff): never refused (a draft keeps anything), cut to what a decision takes."""
    return (
        data.get("reviewer_notes", "")[:NOTES_MAX],
        data.get("corrections", "")[:CORRECTIONS_MAX],
    )


def parse_corrections(text: str):
    """The corrections as JSON, or a ValidationError that says where the JSON went wrong."""
    if not text or not text.strip():
        return None
    try:
        # The shared checks: NaN, Infinity, NUL (\u0000), lone surrogates, overlong numbers and
        # nesting beyond 64 levels are refused here, never sent to the database.
        value = check_json(loads_json(text))
    except ValueError as exc:
        raise forms.ValidationError(f"This {exc}.") from None
    if not isinstance(value, dict):
        raise forms.ValidationError(
            'Corrections must be a JSON object, like {"field": "new value"}.'
        )
    return value


class EnqueueForm(forms.Form):
    """Send results to review: the ticked ids, or every result of a results-list filter."""

    scope = forms.ChoiceField(
        choices=[("selected", "the ticked results"), ("filter", "the whole filter")]
    )
    priority = forms.IntegerField(min_value=-1000, max_value=1000, required=False)
    query = forms.CharField(required=False, max_length=4000)
    # A whole filter is sent only once its count has been shown and confirmed.
    confirm = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        raw_ids = self.data.getlist("result") if hasattr(self.data, "getlist") else []
        try:
            cleaned["result_ids"] = [int(value) for value in raw_ids if 0 < int(value) < 2**31]
        except ValueError:
            raise forms.ValidationError("Result ids must be whole numbers.") from None
        if cleaned.get("scope") == "selected" and not cleaned["result_ids"]:
            raise forms.ValidationError("Tick at least one result first.")
        return cleaned
