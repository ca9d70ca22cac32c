from django.db import migrations

from levqor.staff_groups import sync_groups


def create_staff_groups(apps, schema_editor):
    sync_groups(apps)


class Migration(migrations.Migration):
    # The groups hold permissions on models of these apps, so their tables and
    # content types must exist first.
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("djstripe", "0003_2_11"),
        ("onboarding", "0003_failed_email_index"),
        ("orders", "0007_back_office"),
        ("levqor", "0001_ops_alerts"),
    ]

    operations = [migrations.RunPython(create_staff_groups, migrations.RunPython.noop)]
