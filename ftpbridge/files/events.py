"""Which notification events a change writes into the outbox, decided from the settings
(the store is given the plain answer, :class:`ftpbridge.store.outbox.Notify`).

- The shop's webhook (``[notify] webhook_url``): every item change, from a file or the API,
  and an item put back to waiting or cancelled by hand (``orders unship|set-status``).
- E-mails to customers (``[notify.email]``): a file's orders when its partner says
  ``notify_customers = true``; an API update's orders when it says ``email_on_update=true``,
  else the orders of items whose partner says ``notify_customers = true``.

Nothing is written for a channel that is not configured: switching the webhook on later
does not send the shipments of the months before.
"""

from __future__ import annotations

from ftpbridge.settings import NotifySettings, PartnerSettings, Settings
from ftpbridge.store.outbox import Notify


def for_file(notify: NotifySettings | None, partner: PartnerSettings) -> Notify:
    """The events of an updated file of ``partner`` (``notify`` None: none)."""
    if notify is None:
        return Notify()
    email = partner.notify_customers and notify.email.host is not None
    return Notify(webhook=notify.webhook_url is not None, email=email)


def for_update(settings: Settings, *, email_requested: bool) -> Notify:
    """The events of an API update (``email_on_update``: ``email_requested``)."""
    notify = settings.notify
    webhook = notify.webhook_url is not None
    if notify.email.host is None:
        return Notify(webhook=webhook)
    if email_requested:
        return Notify(webhook=webhook, email=True)
    partners = frozenset(
        name for name, partner in settings.partners.items() if partner.notify_customers
    )
    return Notify(webhook=webhook, email=bool(partners), email_partners=partners)


def for_status_by_hand(notify: NotifySettings) -> Notify:
    """The events of ``ftpbridge orders unship|set-status``: the webhook only (customers are
    e-mailed about shipments, which these commands never make)."""
    return Notify(webhook=notify.webhook_url is not None)
