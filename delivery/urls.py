from django.urls import path, re_path

from delivery import api, deletion_api, deletion_views, event_views, overview_views, views

urlpatterns = [
    path("events/", event_views.event_list, name="event_list"),
    path("events/<int:pk>", event_views.event_detail, name="event_detail"),
    path("overview/", overview_views.install_overview, name="install_overview"),
    path(
        "destinations/<int:destination_pk>/overview",
        overview_views.destination_overview,
        name="destination_overview",
    ),
    path("deliveries/", views.delivery_list, name="delivery_list"),
    path("deliveries/<int:pk>/", views.delivery_detail, name="delivery_detail"),
    path("deliveries/<int:pk>/replay", views.delivery_replay, name="delivery_replay"),
    path("deliveries/replay", views.deliveries_replay, name="deliveries_replay"),
    path("deliveries/replays/<int:pk>/", views.replay_job, name="replay_job"),
    path("deletions/", deletion_views.user_deletion, name="user_deletion"),
    re_path(r"^api/v1/deletions/?$", deletion_api.deletion_create, name="api_deletion_create"),
    re_path(
        r"^api/v1/deletions/(?P<pk>[0-9]+)/?$",
        deletion_api.deletion_status,
        name="api_deletion_status",
    ),
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
