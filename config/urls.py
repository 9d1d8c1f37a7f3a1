from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from customers import views as customer_views

urlpatterns = [
    path("", customer_views.home, name="home"),
    path("customers/<int:pk>/", customer_views.customer_detail, name="customer-detail"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
]
