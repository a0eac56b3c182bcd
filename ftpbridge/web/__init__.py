"""The HTTP service: the Orders API (Topspin's paths and ours), health and metrics.

``app.create_app(settings, store)`` builds the ASGI app; ``server`` runs it with uvicorn.
One router per area (``orders``, ``health``); every route that needs a key gets it from
``auth.require_key``. Routes parse and answer; the work is done by ``files`` and ``store``.
"""
