"""The URL map of the whole project (the composition root: it may name every app)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from console import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sources/", views.source_list, name="source_list"),
    path("sources/<int:pk>/", views.source_detail, name="source_detail"),
    path("sources/<int:pk>/rename", views.source_rename, name="source_rename"),
    path("sources/<int:pk>/rotate", views.source_rotate_write_key, name="source_rotate"),
    path("sources/<int:pk>/delete", views.source_delete, name="source_delete"),
    path("destinations/", views.destination_list, name="destination_list"),
    path("destinations/<int:pk>/", views.destination_detail, name="destination_detail"),
    path("destinations/<int:pk>/toggle", views.destination_toggle, name="destination_toggle"),
    path("destinations/<int:pk>/delete", views.destination_delete, name="destination_delete"),
    path("workspaces/", views.workspace_list, name="workspace_list"),
    path("workspaces/connect", views.workspace_connect, name="workspace_connect"),
    path(
        "workspaces/oauth/callback",
        views.workspace_oauth_callback,
        name="workspace_oauth_callback",
    ),
    path("workspaces/token", views.workspace_token, name="workspace_token"),
    path("workspaces/<int:pk>/test", views.workspace_test, name="workspace_test"),
    path("settings/api-tokens/", views.api_token_list, name="api_token_list"),
    path("settings/api-tokens/<int:pk>/delete", views.api_token_delete, name="api_token_delete"),
    path("", include("console.health")),
    path("", include("mappings.urls")),
    path("", include("delivery.urls")),
    path("admin/", admin.site.urls),
]
