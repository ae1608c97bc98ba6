"""Celery tasks: thin wrappers that call the delivery services. The broker only
wakes workers up; what is due lives in the database."""

from __future__ import annotations

import logging

from celery import shared_task

from delivery import health, replay, services

logger = logging.getLogger(__name__)

# How many drains the sweeper starts at most, however much is due.
MAX_WAKE_UPS = 8


@shared_task(ignore_result=True)
def deliver_due() -> None:
    services.deliveries_drain()


@shared_task(ignore_result=True, expires=30)
def sweep() -> None:
    result = services.deliveries_sweep()
    if result.recovered:
        logger.warning("took back %d deliveries whose worker stopped", result.recovered)
    for _ in range(min(MAX_WAKE_UPS, -(-result.due // services.CLAIM_BATCH))):
        deliver_due.delay()


@shared_task(ignore_result=True)
def apply_retention() -> None:
    logger.info("retention: %s", services.retention_apply())


@shared_task(ignore_result=True)
def replay_run(job_id: int) -> None:
    replay.replay_job_run(job_id=job_id)


@shared_task(ignore_result=True, expires=50)
def check_health() -> None:
    health.health_check()
