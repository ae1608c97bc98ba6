from django.contrib import admin

from mappings.models import Mapping


@admin.register(Mapping)
class MappingAdmin(admin.ModelAdmin):
    """For operators; users edit mappings in the console, where every change is checked.
    Adding one here still respects the limit per destination (``Mapping.save``)."""

    list_display = ("name", "destination", "action", "enabled", "position", "updated_at")
    list_filter = ("action", "enabled")
    search_fields = ("name", "trigger", "destination__name")
    list_select_related = ("destination",)
    readonly_fields = ("created_at", "updated_at")
