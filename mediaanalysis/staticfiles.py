"""The static files' storage in production: whitenoise's compressed manifest, with each file's
address worked out once per process."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """The manifest is read when the site starts and does not change while it runs, and
    neither does a file's address. `{% static %}` looked it up and joined it to STATIC_URL
    anew, five times on every page (docs/performance.md, "The floor, again")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.addresses = {}

    def url(self, name, force=False):
        if force:
            return super().url(name, force)
        if (address := self.addresses.get(name)) is None:
            address = self.addresses[name] = super().url(name)
        return address
