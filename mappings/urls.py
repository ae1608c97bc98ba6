from django.urls import path

from mappings import views

urlpatterns = [
    path("destinations/<int:destination_pk>/mappings/", views.mapping_list, name="mapping_list"),
    path(
        "destinations/<int:destination_pk>/mappings/new/",
        views.mapping_create,
        name="mapping_create",
    ),
    path(
        "destinations/<int:destination_pk>/mappings/quick-setup",
        views.mapping_quick_setup,
        name="mapping_quick_setup",
    ),
    path(
        "destinations/<int:destination_pk>/mappings/export",
        views.mapping_export,
        name="mapping_export",
    ),
    path(
        "destinations/<int:destination_pk>/mappings/import/",
        views.mapping_import,
        name="mapping_import",
    ),
    path(
        "destinations/<int:destination_pk>/mappings/check-trigger",
        views.mapping_check_trigger,
        name="mapping_check_trigger",
    ),
    path(
        "destinations/<int:destination_pk>/mappings/check-field",
        views.mapping_check_field,
        name="mapping_check_field",
    ),
    path(
        "destinations/<int:destination_pk>/mappings/value-editor",
        views.mapping_value_editor,
        name="mapping_value_editor",
    ),
    path(
        "destinations/<int:destination_pk>/mappings/draft",
        views.mapping_draft,
        name="mapping_draft",
    ),
    path("mappings/<int:pk>/", views.mapping_edit, name="mapping_edit"),
    path("mappings/<int:pk>/toggle", views.mapping_toggle, name="mapping_toggle"),
    path("mappings/<int:pk>/rename", views.mapping_rename, name="mapping_rename"),
    path("mappings/<int:pk>/duplicate", views.mapping_duplicate, name="mapping_duplicate"),
    path("mappings/<int:pk>/move", views.mapping_move, name="mapping_move"),
    path("mappings/<int:pk>/delete", views.mapping_delete, name="mapping_delete"),
]
