from django.urls import path, re_path

from delivery import api, views

urlpatterns = [
    path("events/", views.event_list, name="event_list"),
    path("deliveries/", views.delivery_list, name="delivery_list"),
    re_path(
        r"^v1/(?P<call>identify|track|group|page|screen|alias|batch)/?$", api.receive, name="api"
    ),
    # Older mobile SDKs post their batches to /v1/import.
    re_path(r"^v1/import/?$", api.receive, {"call": "batch"}, name="api_import"),
]
