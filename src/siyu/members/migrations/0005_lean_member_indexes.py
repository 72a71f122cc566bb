"""Lean member indexes (ADR 0008, amendment of 2026-12-07): the single-column foreign-key indexes
that another index already leads with (or that no read uses) are dropped, and the rarely set keys
get partial indexes. The foreign keys are altered in the state only and the indexes dropped by
name, so that SQLite does not rebuild the tables (a million customers)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, column, index name): the indexes Django made for these foreign keys, the same on SQLite and PostgreSQL
DROPPED = [
    ("members_customer", "brand_id", "members_customer_brand_id_b552244b"),
    ("members_customer", "store_id", "members_customer_store_id_2ba3ab17"),
    ("members_customer", "guide_id", "members_customer_guide_id_efae58a8"),
    ("members_customer", "merged_into_id", "members_customer_merged_into_id_85089b4c"),
    ("members_customer", "first_code_id", "members_customer_first_code_id_ecb593f5"),
    ("members_customer", "joined_at", "members_customer_joined_at_b6020107"),
    ("members_identity", "brand_id", "members_identity_brand_id_f38cdb88"),
    ("members_identity", "customer_id", "members_identity_customer_id_58ab9c0b"),
    ("members_binding", "brand_id", "members_binding_brand_id_7252c5d6"),
    ("members_binding", "customer_id", "members_binding_customer_id_a19a0e13"),
    ("members_binding", "previous_guide_id", "members_binding_previous_guide_id_f0a6562d"),
    ("members_binding", "code_id", "members_binding_code_id_94090728"),
    ("members_consent", "brand_id", "members_consent_brand_id_3874cab9"),
    ("members_consent", "customer_id", "members_consent_customer_id_72122cc4"),
    ("members_customertag", "brand_id", "members_customertag_brand_id_c96b9c99"),
    ("members_customertag", "customer_id", "members_customertag_customer_id_637c9aad"),
    ("members_customertag", "tag_id", "members_customertag_tag_id_43ff478e"),
]


def _drop(table: str, column: str, name: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'DROP INDEX IF EXISTS "{name}"', reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")'
    )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0004_import_search_indexes"),
        ("org", "0003_phone_numbers_validated"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="joined_at",
                    field=models.DateTimeField(verbose_name="joined at"),
                ),
                migrations.AlterField(
                    model_name="binding",
                    name="brand",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="org.brand"
                    ),
                ),
                migrations.AlterField(
                    model_name="binding",
                    name="code",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="members.code",
                    ),
                ),
                migrations.AlterField(
                    model_name="binding",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bindings",
                        to="members.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="binding",
                    name="previous_guide",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="consent",
                    name="brand",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="org.brand"
                    ),
                ),
                migrations.AlterField(
                    model_name="consent",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="consents",
                        to="members.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="brand",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="org.brand"
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="first_code",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="members.code",
                        verbose_name="first code",
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="guide",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="guide",
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="merged_into",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="absorbed",
                        to="members.customer",
                        verbose_name="merged into",
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="store",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="org.store",
                        verbose_name="store",
                    ),
                ),
                migrations.AlterField(
                    model_name="customertag",
                    name="brand",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="org.brand"
                    ),
                ),
                migrations.AlterField(
                    model_name="customertag",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tag_links",
                        to="members.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="customertag",
                    name="tag",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="links",
                        to="members.tag",
                    ),
                ),
                migrations.AlterField(
                    model_name="identity",
                    name="brand",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="org.brand"
                    ),
                ),
                migrations.AlterField(
                    model_name="identity",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="identities",
                        to="members.customer",
                    ),
                ),
            ],
            database_operations=[_drop(*index) for index in DROPPED],
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["brand", "joined_at"], name="customer_brand_joined"),
        ),
        migrations.AddIndex(
            model_name="binding",
            index=models.Index(
                condition=models.Q(("previous_guide__isnull", False)),
                fields=["previous_guide"],
                name="binding_previous_guide",
            ),
        ),
        migrations.AddIndex(
            model_name="binding",
            index=models.Index(condition=models.Q(("code__isnull", False)), fields=["code"], name="binding_code"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", False)), fields=["merged_into"], name="customer_merged_into"
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("first_code__isnull", False)), fields=["first_code"], name="customer_first_code"
            ),
        ),
    ]
