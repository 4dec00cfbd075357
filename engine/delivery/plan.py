"""Planning a send: who gets which rendered push on which token, and why everyone else does not.

Steps, each removing users with a reason the report counts: render the template per row (each
user's copy variant, when the push has variants), keep only test users (``--test``), cadence
(live sends), device token, tokens FCM declared dead, and a token shared with an earlier user
(one push per device, as the original did). Last, a user who would be sent but is in a holdout
group is held out (``held_out:<scope>``): the control group passed every filter the treated
users did, so the two are comparable (``engine impact``).
The plan is computed once and frozen in the ledger: a resumed send never re-plans, so users
it already pushed are not re-judged by cadence against their own new push.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Mapping, Sequence

from engine.cadence import CadenceDecision
from engine.delivery.model import CadenceSummary, ItemStatus, LedgerItem, PlanSummary
from engine.delivery.recipients import Recipients
from engine.push.arms import HoldoutGroup, held_out_by, pick
from engine.push.template import PushTemplate, render

NO_TOKEN = "no_token"
CADENCE_PREFIX = "cadence:"

CadenceFilter = Callable[[Sequence[str]], CadenceDecision]
TokenLookup = Callable[[Sequence[str]], Mapping[str, str]]


@dataclass(frozen=True)
class Plan:
    items: list[LedgerItem]
    summary: PlanSummary  # counts fixed at planning, kept in engine.sends

    @property
    def pending(self) -> int:
        return sum(1 for item in self.items if item.status is ItemStatus.PENDING)


def plan_send(
    template: PushTemplate,
    recipients: Recipients,
    *,
    allowed_hosts: Sequence[str],
    test_users: Collection[str] | None,
    cadence: CadenceFilter | None,
    tokens: TokenLookup,
    dead_tokens: TokenLookup,
    holdouts: Sequence[HoldoutGroup] = (),
) -> Plan:
    """Decide every row. ``test_users`` restricts to those ids (test sends); ``cadence`` None bypasses it;
    ``holdouts``: the groups held out of this (live) send."""
    skipped: dict[str, str] = {}
    rendered = {}
    copies = template.copies()
    weights = [variant.weight for variant in template.variants]
    variant_of: dict[str, str] = {}
    for user_id, values in recipients.rows:
        copy = template
        if copies:
            index = pick(template.variant_salt, user_id, weights)
            copy = copies[index]
            variant_of[user_id] = template.variants[index].name
        push, reason = render(copy, values, allowed_hosts)
        if reason:
            skipped[user_id] = reason
        elif test_users is not None and user_id not in test_users:
            skipped[user_id] = "not_test_user"
        else:
            rendered[user_id] = push
    decision: CadenceDecision | None = None
    if cadence is not None and rendered:
        decision = cadence(list(rendered))
        for rule, ids in decision.excluded.items():
            for user_id in ids:
                skipped[user_id.lower()] = CADENCE_PREFIX + rule
        for user_id in decision.invalid_ids:
            skipped[user_id.lower()] = "invalid_user_id"
    candidates = [uid for uid in rendered if uid not in skipped]
    found = tokens(candidates) if candidates else {}
    dead = dead_tokens(list(found.values())) if found else {}
    owner: dict[str, str] = {}
    items: list[LedgerItem] = []
    for seq, (user_id, _) in enumerate(recipients.rows):
        token = found.get(user_id)
        reason = skipped.get(user_id)
        if reason is None:
            if token is None:
                reason = NO_TOKEN
            elif token in dead:
                reason = f"dead_token:{dead[token]}"
            elif token in owner:
                reason = "duplicate_token"
            else:
                owner[token] = user_id  # a held-out user keeps the device: as if sent
                group = held_out_by(holdouts, user_id)
                reason = group.reason if group else None
        push = rendered.get(user_id)
        items.append(
            LedgerItem(
                seq=seq,
                user_id=user_id,
                status=ItemStatus.SKIPPED if reason else ItemStatus.PENDING,
                reason=reason,
                token=token,
                title=push.title if push else None,
                body=push.body if push else None,
                deep_link=push.link if push else None,
                variant=variant_of.get(user_id),
            )
        )
    summary = PlanSummary(
        total_rows=recipients.total_rows,
        duplicates=recipients.duplicates,
        empty_ids=recipients.empty_ids,
        invalid_ids=len(recipients.invalid_ids),
        cadence=_cadence_summary(decision, bypassed=cadence is None),
    )
    return Plan(items, summary)


def _cadence_summary(decision: CadenceDecision | None, *, bypassed: bool) -> CadenceSummary:
    if decision is None:
        return CadenceSummary(mode="bypass" if bypassed else "not_needed")
    return CadenceSummary(mode=decision.mode, failed_open=decision.failed_open, warnings=tuple(decision.warnings))
