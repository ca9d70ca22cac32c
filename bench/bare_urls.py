"""The project's URLs with dj-stripe's own webhook view at /stripe/webhook/<uuid>/ in place of ours."""

from django.urls import include, path

from levqor.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    *[pattern for pattern in project_urlpatterns if str(pattern.pattern) != "stripe/"],
]
