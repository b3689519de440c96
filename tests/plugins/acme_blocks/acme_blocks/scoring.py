"""Lead scoring, with the kind of bugs a third-party block ships: the test block for failure isolation.

``acme.lead_score`` divides one attribute by another and so raises ZeroDivisionError for a contact whose
divisor is 0; ``acme.plan_signup`` is an event trigger whose ``matches()`` raises KeyError for an event
without a ``plan`` property. Waymark must park (or skip) just those contacts and move the rest on.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from backend.engine.sdk import BlockType, Event, Go, Item, Outcome, SetAttributes, StepContext

AttributeName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class LeadScoreConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    numerator: AttributeName = "revenue"
    divisor: AttributeName = "visits"
    into: AttributeName = "score"


class LeadScore(BlockType):
    type = "acme.lead_score"
    label = "Score lead"
    description = "Sets an attribute to one attribute divided by another (e.g. revenue per visit)."
    icon = "tag"
    category = "action"
    Config = LeadScoreConfig

    def step(self, config: LeadScoreConfig, item: Item, ctx: StepContext) -> Outcome:
        attributes = item.contact.attributes
        score = attributes.get(config.numerator, 0) / attributes.get(config.divisor, 1)  # the bug: divisor 0
        return Go("next", effects=(SetAttributes({config.into: round(score, 2)}),))


class PlanSignupConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    plan: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "pro"


class PlanSignup(BlockType):
    type = "acme.plan_signup"
    label = "Signed up for a plan"
    description = "Contacts enter when a 'signup' event names this plan."
    icon = "zap"
    category = "trigger"
    trigger = "event"
    Config = PlanSignupConfig

    def matches(self, config: PlanSignupConfig, event: Event) -> bool:
        return event.name == "signup" and event.properties["plan"].lower() == config.plan  # the bug: no plan

    def step(self, config: PlanSignupConfig, item: Item, ctx: StepContext) -> Outcome:
        return Go("next")
