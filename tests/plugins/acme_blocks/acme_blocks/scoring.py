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
    translations = {
        "zh-CN": {"label": "线索评分", "description": "把一个属性除以另一个属性的结果写入属性（如每次访问的收入）。"},
        "es": {
            "label": "Puntuar lead",
            "description": "Guarda un atributo dividido por otro (p. ej., ingresos por visita).",
        },
        "pl": {
            "label": "Oceń leada",
            "description": "Zapisuje atrybut podzielony przez inny (np. przychód na wizytę).",
        },
    }

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
    translations = {
        "zh-CN": {"label": "注册了套餐", "description": "当 “signup” 事件指明此套餐时，联系人进入旅程。"},
        "es": {"label": "Se suscribió a un plan", "description": "Entran cuando un evento “signup” nombra este plan."},
        "pl": {"label": "Wykupił plan", "description": "Kontakty wchodzą, gdy zdarzenie „signup” wskazuje ten plan."},
    }

    def matches(self, config: PlanSignupConfig, event: Event) -> bool:
        return event.name == "signup" and event.properties["plan"].lower() == config.plan  # the bug: no plan

    def step(self, config: PlanSignupConfig, item: Item, ctx: StepContext) -> Outcome:
        return Go("next")
