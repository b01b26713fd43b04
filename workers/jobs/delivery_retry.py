"""What happens to a delivery that failed to apply: retry with backoff, then park as failed.

Shared by the Shopify and supplier apply jobs, so both inboxes retry and park alike.
"""

from datetime import timedelta

from schema.queries.inbox import DeliveryOutcome, DeliveryStatus

__all__ = ["MAX_ATTEMPTS", "failure_outcome", "retry_delay"]

MAX_ATTEMPTS = 8


def retry_delay(attempts: int) -> timedelta:
    """Backoff before the next try after `attempts` failed ones: 2 s, 4 s, ... capped at 10 min."""
    return timedelta(seconds=min(2 ** max(attempts, 1), 600))


def failure_outcome(
    *, delivery_id: int, previous_attempts: int, error: Exception
) -> DeliveryOutcome:
    """Pending again with a backoff, or failed for good once the attempts are spent."""
    attempts = previous_attempts + 1
    message = f"{type(error).__name__}: {error}"
    if attempts >= MAX_ATTEMPTS:
        return DeliveryOutcome(
            delivery_id=delivery_id,
            status=DeliveryStatus.FAILED,
            error=f"gave up after {attempts} attempts: {message}",
        )
    return DeliveryOutcome(
        delivery_id=delivery_id,
        status=DeliveryStatus.PENDING,
        error=message,
        retry_in=retry_delay(attempts),
    )
