from django.urls import path

from . import views

app_name = "onboarding"

urlpatterns = [
    path("intake/<str:token>/", views.intake, name="intake"),
]
