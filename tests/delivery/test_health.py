"""Destination health: verdicts from the last hour's deliveries and the
workspace, changes logged and mailed once, and the banner on console pages."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from console import services as console_services
from console.models import Workspace
from delivery import health, tasks
from delivery.bulk import insert_rows
from delivery.models import Delivery, DestinationHealth, Event
from tests.console.test_configuration import _manage

pytestmark = pytest.mark.django_db


@pytest.fixture
def email(settings):
    settings.EMAIL_HOST = "smtp.example.test"
    settings.ADMINS = [("ops@acme.test", "ops@acme.test")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def finish(destination, *, delivered: int, failed: int, ago: timedelta = timedelta(minutes=5)):
    """Real deliveries of the destination that finished ``ago``."""
    at = timezone.now() - ago
    [event_id] = insert_rows(
        Event,
        [
            {
                "source_id": destination.source_id,
                "message_id": f"m-{at.isoformat()}",
                "type": "track",
                "payload": {},
                "received_at": at,
                "status": Event.Status.ROUTED,
            }
        ],
    )
    insert_rows(
        Delivery,
        [
            {
                "event_id": event_id,
                "destination_id": destination.pk,
                "action": "track_event",
                "status": status,
                "finished_at": at,
            }
            for status, count in (("delivered", delivered), ("failed", failed))
            for _ in range(count)
        ],
    )


def state_of(destination) -> str:
    return DestinationHealth.objects.get(destination=destination).state


def test_a_destination_under_the_threshold_is_failing(destination):
    finish(destination, delivered=17, failed=3)

    health.health_check()

    record = DestinationHealth.objects.get(destination=destination)
    assert record.state == DestinationHealth.State.FAILING
    assert record.success_rate == pytest.approx(0.85)
    assert "17 of the 20 deliveries" in record.reason


def test_too_few_deliveries_or_old_ones_raise_no_alarm(destination, settings):
    finish(destination, delivered=1, failed=18)
    finish(destination, delivered=0, failed=50, ago=timedelta(hours=2))

    health.health_check()

    assert state_of(destination) == DestinationHealth.State.HEALTHY
    settings.FERRY_HEALTH_MIN_DELIVERIES = 10
    health.health_check()
    assert state_of(destination) == DestinationHealth.State.FAILING


def test_test_sends_do_not_count(destination):
    finish(destination, delivered=20, failed=0)
    Delivery.objects.update(is_test=True)
    finish(destination, delivered=0, failed=0)

    health.health_check()

    assert DestinationHealth.objects.get(destination=destination).success_rate is None


def test_a_workspace_that_needs_reconnection_makes_its_destinations_need_it(destination, workspace):
    Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.NEEDS_RECONNECT)

    health.health_check()

    assert state_of(destination) == DestinationHealth.State.NEEDS_RECONNECT


def test_each_change_is_logged_and_mailed_once(destination, email, caplog):
    caplog.set_level(logging.INFO, logger="delivery.health")
    finish(destination, delivered=10, failed=30)

    health.health_check()
    health.health_check()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "is failing" in warnings[0].getMessage()
    assert "10 of the 40 deliveries" in warnings[0].getMessage()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@acme.test"]
    assert "Intercom" in mail.outbox[0].subject and "failing" in mail.outbox[0].subject
    assert "10 of the 40 deliveries" in mail.outbox[0].body

    Delivery.objects.all().delete()
    finish(destination, delivered=40, failed=0)
    caplog.clear()
    health.health_check()
    health.health_check()

    recoveries = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.getMessage() for r in recoveries] == [
        f"destination {destination.pk} (Intercom) is healthy again"
    ]
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(mail.outbox) == 2
    assert "healthy again" in mail.outbox[1].subject


def test_without_email_configured_nothing_is_mailed(destination, settings, caplog):
    settings.EMAIL_HOST = ""
    settings.ADMINS = [("ops@acme.test", "ops@acme.test")]
    finish(destination, delivered=0, failed=20)

    with caplog.at_level(logging.WARNING, logger="delivery.health"):
        health.health_check()

    assert len(caplog.records) == 1
    assert mail.outbox == []


def test_the_beat_task_runs_the_check(destination):
    finish(destination, delivered=0, failed=20)

    tasks.check_health.apply()

    assert state_of(destination) == DestinationHealth.State.FAILING


def test_the_banner_shows_on_any_console_page(owner_client, teammate_client, destination):
    finish(destination, delivered=0, failed=25)
    health.health_check()

    for client, url in [
        (owner_client, reverse("source_list")),
        (teammate_client, reverse("workspace_list")),
    ]:
        html = client.get(url).content.decode()
        assert 'class="health-banner"' in html
        assert (
            f'<a href="{reverse("destination_detail", args=[destination.pk])}">Intercom</a>' in html
        )
        assert "is failing: 0 of the 25 deliveries" in html


def test_the_banner_shows_a_workspace_needing_reconnection_at_once(
    owner_client, destination, workspace
):
    Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.NEEDS_RECONNECT)

    html = owner_client.get(reverse("source_list")).content.decode()

    assert "needs reconnection" in html
    assert f"{reverse('workspace_token')}?workspace={workspace.pk}" in html


def test_the_banner_is_not_shown_to_others_nor_for_healthy_destinations(
    owner_client, outsider_client, destination, organization, workspace
):
    finish(destination, delivered=0, failed=25)
    health.health_check()
    other_source, _ = console_services.source_create(organization=organization, name="Shop")
    healthy = console_services.destination_create(
        source=other_source, name="Healthy one", workspace=workspace, enabled=True
    )
    finish(healthy, delivered=25, failed=0)
    health.health_check()

    assert (
        'class="health-banner"' not in outsider_client.get(reverse("source_list")).content.decode()
    )
    owner_page = owner_client.get(reverse("source_list")).content.decode()
    assert "1 destination needs attention" in owner_page
    assert "Healthy one" not in owner_page.split('class="health-banner"')[1].split("</div>")[0]


def test_the_overview_shows_the_same_alerts(owner_client, destination):
    finish(destination, delivered=0, failed=25)
    health.health_check()

    html = owner_client.get(
        reverse("destination_overview", args=[destination.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "is failing: 0 of the 25 deliveries" in html


def test_the_banner_costs_nothing_on_fragments_that_do_not_show_it(
    owner_client, destination, django_assert_max_num_queries
):
    url = reverse("event_list")
    owner_client.get(url, {"after": 0}, HTTP_HX_REQUEST="true")
    with django_assert_max_num_queries(20) as queries:
        owner_client.get(url, {"after": 0}, HTTP_HX_REQUEST="true")
    assert not any("destinationhealth" in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FERRY_HEALTH_THRESHOLD", "90%", "FERRY_HEALTH_THRESHOLD must be a number"),
        ("FERRY_HEALTH_THRESHOLD", "1.5", "FERRY_HEALTH_THRESHOLD must be between 0.0 and 1.0"),
        ("FERRY_HEALTH_MIN_DELIVERIES", "0", "FERRY_HEALTH_MIN_DELIVERIES must be at least 1"),
        ("EMAIL_URL", "http://mail.test", "EMAIL_URL must start with one of"),
        ("EMAIL_PORT", "smtp", "EMAIL_PORT must be a whole number"),
        ("FERRY_ADMIN_EMAILS", "ops", "FERRY_ADMIN_EMAILS must be comma-separated email addresses"),
    ],
)
def test_malformed_health_and_email_settings_stop_start_up(tmp_path, variable, value, message):
    result = _manage("check", FERRY_VAR_DIR=str(tmp_path), **{variable: value})

    assert result.returncode == 2
    assert message in result.stderr


def test_email_settings_come_from_one_url(tmp_path):
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; from delivery.health import email_configured;"
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD,"
        " s.EMAIL_USE_TLS, s.ADMINS, email_configured())",
        FERRY_VAR_DIR=str(tmp_path),
        EMAIL_URL="smtp+tls://ferry%40acme.test:p%40ss@mail.acme.test",
        FERRY_ADMIN_EMAILS="ops@acme.test,cto@acme.test",
    )

    assert result.stdout.splitlines()[-1].split(" ", 5) == [
        "mail.acme.test",
        "587",
        "ferry@acme.test",
        "p@ss",
        "True",
        "[('ops@acme.test', 'ops@acme.test'), ('cto@acme.test', 'cto@acme.test')] True",
    ]
