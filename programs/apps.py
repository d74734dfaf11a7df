from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = "Programs, tiers and benefits"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from programs.models import Segment
        from programs.versioning import segment_version_record

        # The history of a segment's criteria, whatever door saved it.
        post_save.connect(
            segment_version_record, sender=Segment, dispatch_uid="programs-segment-version-record"
        )
