"""The domain of people and what they do: contact upserts, merges, subscriptions and the one event path.

Every event — ingested over the Segment API, tracked (opens, clicks, unsubscribes), produced by delivery,
imported, or derived (segment entries) — is stored by :func:`backend.contacts.events.record` or, for
Segment calls that also create and update contacts, :func:`backend.contacts.upsert.store`; both hand
the whole stored batch, once and set-based, to audiences and journeys (:func:`events.propagate`).
No other module inserts events.
"""
