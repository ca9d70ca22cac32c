"""The staff groups of the back office and the permissions each one holds.

Operations works orders: it views and changes them, which also runs the
admin actions that change orders. Viewer only looks. Neither group may change
a machine-written row (activity, email deliveries, delivery attempts, staff
alerts, dj-stripe's webhook triggers); their admins refuse that to superusers
too.
"""

from django.contrib.auth.management import create_permissions

VIEWED_MODELS = [
    ("orders", "dfyorder"),
    ("orders", "dfyactivity"),
    ("orders", "plan"),
    ("onboarding", "outboxemail"),
    ("onboarding", "deliveryattempt"),
    ("onboarding", "staffalert"),
    ("onboarding", "stripemirrorsync"),
    ("djstripe", "webhookeventtrigger"),
]

GROUP_PERMISSIONS = {
    "Operations": [f"{app}.view_{model}" for app, model in VIEWED_MODELS] + ["orders.change_dfyorder"],
    "Viewer": [f"{app}.view_{model}" for app, model in VIEWED_MODELS],
}


def sync_groups(apps):
    """Create or update the staff groups so each contains exactly its listed permissions.

    apps is a migration's historical registry or django.apps.apps. A fresh
    database has no Permission rows until post_migrate, so they are created
    here first. A listed permission that still does not exist raises
    LookupError, so a renamed model cannot leave a group silently short.
    """
    for app_config in apps.get_app_configs():
        # A migration's app configs (AppConfigStub) have no models module, and
        # create_permissions skips such apps unless one is set.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in GROUP_PERMISSIONS.items():
        permissions = []
        for code in codes:
            app_label, codename = code.split(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None:
                raise LookupError(f"Permission {code} for staff group {name!r} does not exist.")
            permissions.append(permission)
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
