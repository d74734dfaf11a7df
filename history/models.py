"""Third-party models recorded like every definition: django-guardian's object-permission
grants and Django's logins.

They are tracked through proxies here, so that the event tables and triggers live in this
app's migrations.
"""

from django.contrib.auth.models import User
from guardian.models import GroupObjectPermission, UserObjectPermission

from history.tracking import track_links, tracked


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


@tracked(exclude=["password"], ignore=["last_login"])
class Login(User):
    """A login's changes (name, email, whether it may sign in, staff or not, its groups and
    permissions), never its password.

    Signing in alone records nothing: ``last_login`` moves at every sign-in and is no change
    to the directory. The events date a login's last change, which ``auth.User`` has no column
    for (the users' ``updated_since`` reads them).
    """

    class Meta:
        proxy = True
        verbose_name = "login"


# Who was given which group or permission, and who took it away (the links' tables are Django's).
class LoginGroupLink(User.groups.through):  # type: ignore[name-defined,misc]
    class Meta:
        proxy = True


class LoginPermissionLink(User.user_permissions.through):  # type: ignore[name-defined,misc]
    class Meta:
        proxy = True


track_links(LoginGroupLink, name="LoginGroupLinkEvent")
track_links(LoginPermissionLink, name="LoginPermissionLinkEvent")
