"""URLconf for hosts that route the health paths themselves (the middleware is the usual way).

Mounted by ``experio_platform.urls`` at ``health/``.
"""

from django.urls import path

from experio_platform.health import views

app_name = "health"
urlpatterns = [
    path("", views.health, name="health"),
    path("simple/", views.simple, name="simple"),
]
