from django.urls import path, re_path

from delivery import api, views

urlpatterns = [
    path("events/", views.event_list, name="event_list"),
    path("deliveries/", views.delivery_list, name="delivery_list"),
    path(
        "destinations/<int:destination_pk>/mappings/test", views.mapping_test, name="mapping_test"
    ),
    path(
        "destinations/<int:destination_pk>/deliveries",
        views.destination_deliveries,
        name="destination_deliveries",
    ),
    path(
        "mappings/<int:mapping_pk>/deliveries/summary",
        views.mapping_delivery_summary,
        name="mapping_delivery_summary",
    ),
    path("sources/<int:source_pk>/paths", views.source_paths, name="source_paths"),
    re_path(
        r"^v1/(?P<call>identify|track|group|page|screen|alias|batch)/?$", api.receive, name="api"
    ),
    # Older mobile SDKs post their batches to /v1/import.
    re_path(r"^v1/import/?$", api.receive, {"call": "batch"}, name="api_import"),
]
