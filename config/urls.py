from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views as config_views
from config.health import HealthView
from customer_pages import views as customer_views
from dashboards import views as dashboard_views
from interactions import views as interaction_views
from outcomes import views as outcome_views
from playbooks import views as playbook_views

urlpatterns = [
    path("", customer_views.home, name="home"),
    path("customers/", customer_views.customer_list, name="customer-list"),
    path("customers/<int:pk>/", customer_views.customer_detail, name="customer-detail"),
    path("customers/<int:pk>/edit/", customer_views.customer_edit, name="customer-edit"),
    path("customers/<int:customer_pk>/outcomes/new/", outcome_views.outcome_new, name="outcome-new"),
    path("touchpoints/<int:pk>/correct/", interaction_views.touchpoint_correct, name="touchpoint-correct"),
    path("touchpoints/<int:pk>/delete/", interaction_views.touchpoint_delete, name="touchpoint-delete"),
    path("imports/", interaction_views.import_upload, name="import-upload"),
    path("imports/<int:pk>/", interaction_views.import_detail, name="import-detail"),
    path("log/", interaction_views.log_touchpoint, name="log-touchpoint"),
    path("customers/<int:customer_pk>/log/", interaction_views.log_touchpoint, name="log-touchpoint-for"),
    path("customers/<int:customer_pk>/memory-badge/", customer_views.memory_badge, name="memory-badge"),
    path("log/customers/", interaction_views.customer_options, name="customer-options"),
    path("log/complaints/", interaction_views.complaint_options, name="complaint-options"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("work/", playbook_views.my_work_page, name="my-work"),
    path("tasks/", playbook_views.team_page, name="team-tasks"),
    path("tasks/<int:pk>/", playbook_views.task_detail, name="task-detail"),
    path("tasks/<int:pk>/close/", playbook_views.task_close_view, name="task-close"),
    path("tasks/<int:pk>/snooze/", playbook_views.task_snooze_view, name="task-snooze"),
    path("tasks/<int:pk>/reassign/", playbook_views.task_reassign_view, name="task-reassign"),
    path("tasks/<int:pk>/log/", playbook_views.task_log, name="task-log"),
    path("playbooks/", playbook_views.playbook_list, name="playbook-list"),
    path("playbooks/new/", playbook_views.playbook_edit, name="playbook-new"),
    path("playbooks/<int:pk>/", playbook_views.playbook_edit, name="playbook-edit"),
    path("outcomes/import/", outcome_views.outcome_import, name="outcome-import"),
    path("backtests/", outcome_views.backtests, name="backtests"),
    path("backtests/<int:pk>/", outcome_views.backtest_detail, name="backtest-detail"),
    path("model/", outcome_views.model_versions, name="model-versions"),
    path("model/rollback/", outcome_views.model_rollback, name="model-rollback"),
    path("model/<int:number>/", outcome_views.model_version, name="model-version"),
    path("model/<int:number>/edit/", outcome_views.model_version_edit, name="model-version-edit"),
    path("model/<int:number>/preview/", outcome_views.model_version_preview, name="model-version-preview"),
    path("model/<int:number>/apply/", outcome_views.model_version_apply, name="model-version-apply"),
    path("model/<int:number>/discard/", outcome_views.model_version_discard, name="model-version-discard"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("health/", HealthView.as_view(), name="health"),
    path("favicon.ico", config_views.favicon),
    path("api/v1/", include("config.api_urls")),
]

handler404 = "config.views.not_found"
handler400 = "config.views.bad_request"
