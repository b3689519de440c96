"""Tracking and consent: signed open/click/unsubscribe links (``signing``), the per-message rewrite on the
sending path (``links``), contact events and consent changes (``recording``, ``actions``), provider
bounce notifications (``bounces``) and the recipient-facing words (``i18n``). HTTP routes live in
``backend/api/tracking.py``; docs/operators.md ("Tracking") explains the moving parts."""
