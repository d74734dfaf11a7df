"""Object-permission grants (django-guardian's tables) recorded like every definition.

Guardian is a third-party app: its models are tracked through proxies here, so
that the event tables and triggers live in this app's migrations.
"""

from guardian.models import GroupObjectPermission, UserObjectPermission

from history.tracking import tracked


@tracked()
class UserGrant(UserObjectPermission):
    class Meta:
        proxy = True
        verbose_name = "object permission of a user"


@tracked()
class GroupGrant(GroupObjectPermission):
    class Meta:
        proxy = True
        verbose_name = "object permission of a group"
