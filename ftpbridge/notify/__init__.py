"""Notifications: the outbox's events sent to the shop and to customers.

The events are written by the store's apply path, in the transaction of each change
(:mod:`ftpbridge.store.outbox`); this package sends them, at least once, and keeps them
until they are delivered or dead:

- ``sender``: claims due events (oldest first per order), hands them to a channel,
  records what each attempt got, retries with exponential backoff (tenacity's wait
  functions) for ``[notify] give_up_after``, then the event is dead;
- ``outcomes``: what an attempt got (delivered, try again, refused);
- ``webhook``: one signed JSON POST per batch of events to the shop (``Ftpbridge-Signature``);
- ``email``: one e-mail per order to the customer over SMTP, rendered by ``templates``.

``ftpbridge run`` runs the sender every ``[notify] interval`` seconds;
``ftpbridge notify send`` runs it once by hand.
"""
