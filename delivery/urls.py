from django.urls import path

from delivery import views

urlpatterns = [
    path("events/", views.event_list, name="event_list"),
    path("deliveries/", views.delivery_list, name="delivery_list"),
]
