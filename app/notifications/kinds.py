"""The kinds of notification, their defaults and how each one reads.

A kind names what happened; ``data`` carries the IDs (and a few display
strings) the caller knows. ``required`` lists the keys ``notify`` insists on;
``render(data)`` makes the one-line text stored with the notification (so the
list never has to load other domains' rows).

Email batching: notifications of one user with the same ``group_key(data)``
that arrive while an email is pending go out as one email (a burst of messages
in one conversation, several events of one order).

Review kinds (category "reviews") are notified by the handlers of the reviews domain's events
in ``events.py``; their data carries names and IDs only, never a rating or a review's text
before it is published (the double-blind rule), and reasons given by moderators.

Order kinds are called by the orders domain (a later issue) from its own event
handlers, e.g. ``notify(order.seller_id, "order_placed", {"order_id": 7,
"gig_title": "Logo", "actor_name": "Ada"}, url="/orders/7")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.accounts.models import SELLER_LEVELS
from app.reviews.models import LEVELS


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # on the preferences form
    category: str  # "messages", "orders", "account"
    default_in_app: bool
    default_email: bool
    required: tuple[str, ...]
    render: Callable[[dict], str]
    group_key: Callable[[dict], str]
    action_label: str | None = None  # the email's button when this kind's link leads it


def _who(data: dict, fallback: str = "Someone") -> str:
    return str(data.get("actor_name") or fallback)


def _order(data: dict) -> str:
    title = data.get("gig_title")
    return f"order #{data['order_id']}" + (f" ({title})" if title else "")


def _job(data: dict) -> str:
    title = data.get("job_title")
    return f"“{title}”" if title else f"job #{data['job_id']}"


def _contract(data: dict) -> str:
    title = data.get("title")
    return f"contract C-{data['contract_id']}" + (f" (“{title}”)" if title else "")


def _dispute(data: dict) -> str:
    title = data.get("title")
    return f"dispute D-{int(data['dispute_id']):06d}" + (f" (“{title}”)" if title else "")


def _pr(data: dict) -> str:
    """ "PR #12" (GitHub) or "MR !12" (GitLab merge requests)."""
    return f"MR !{data['number']}" if data.get("provider") == "gitlab" else f"PR #{data['number']}"


def _first_upper(text: str) -> str:
    """``text`` with its first letter capitalised and the rest as written (a gig title keeps its
    capitals, which ``str.capitalize`` would lower)."""
    return text[:1].upper() + text[1:]


def _by_order(data: dict) -> str:
    return f"order:{int(data['order_id'])}"


def _snippet(text: str, limit: int = 140) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _gig(data: dict) -> str:
    title = data.get("gig_title")
    return f"“{title}”" if title else f"#{data['gig_id']}"


def _message_text(data: dict) -> str:
    snippet = _snippet(data.get("snippet", ""))
    return f"{_who(data)}: {snippet}" if snippet else f"{_who(data)} sent you a message."


def _mention_text(data: dict) -> str:
    snippet = _snippet(data.get("snippet", ""))
    return f"{_who(data)} mentioned you: {snippet}" if snippet else f"{_who(data)} mentioned you."


def _days(count) -> str:
    count = int(count)
    return "1 day" if count == 1 else f"{count} days"


def _level_label(level) -> str:
    return SELLER_LEVELS.get(level, str(level))


def _level_text(data: dict) -> str:
    new, old = data["new"], data.get("old")
    rank = {level: i for i, level in enumerate(LEVELS)}  # lowest first: up or down decides the words
    if old is None or rank.get(new, 0) > rank.get(old, 0):
        if new == "top_rated":
            return "Congratulations: you are now a Top Rated seller!"
        return f"Congratulations: you are now a {_level_label(new)} seller!"
    # A drop: said plainly, with the way back (levels are recomputed every day).
    if new == "new":
        return (
            f"Your seller level is back to New seller (it was {_level_label(old)}). Levels are "
            "checked every day: on-time deliveries and good reviews bring it back."
        )
    return (
        f"Your seller level is now {_level_label(new)} (it was {_level_label(old)}). Levels are "
        "checked every day: on-time deliveries and good reviews bring it back."
    )


def _moderation_text(data: dict) -> str:
    action, target = data["action"], f"your review of {_order(data)}"
    reason = _snippet(data.get("reason", ""), 300)
    if action == "held":
        return (
            f"{_first_upper(target)} is waiting for a moderator before it is published "
            "(it contains words this marketplace checks first)."
        )
    if action == "hidden":
        return f"A moderator hid {target}" + (f": {reason}" if reason else ".")
    if action == "restored":
        return f"A moderator restored {target}" + (f": {reason}" if reason else ".")
    raise ValueError(f"unknown moderation action {action!r}")


_ORDER_TEXTS = {
    "order_placed": ("Order placed", lambda d: f"{_who(d)} placed {_order(d)}."),
    "order_paid": ("Order paid", lambda d: f"{_first_upper(_order(d))} was paid."),
    "order_delivered": ("Order delivered", lambda d: f"{_who(d)} delivered {_order(d)}."),
    "order_revision_requested": (
        "Revision asked",
        lambda d: f"{_who(d)} asked for a revision of {_order(d)}.",
    ),
    "order_completed": ("Order completed", lambda d: f"{_first_upper(_order(d))} is complete."),
    "order_cancellation_requested": (
        "Cancellation asked",
        lambda d: f"{_who(d)} asked to cancel {_order(d)}.",
    ),
    "order_cancellation_accepted": (
        "Cancellation accepted",
        lambda d: f"{_who(d)} accepted the cancellation of {_order(d)}.",
    ),
    # The milestone engine's steps (orders with milestones; job contracts later).
    "milestone_funding_requested": (
        "Milestone to fund",
        lambda d: f"The next milestone of {_order(d)} is ready to be funded.",
    ),
    "milestone_funded": (
        "Milestone funded",
        lambda d: f"A milestone of {_order(d)} is funded: the work can start.",
    ),
    "milestone_submitted": (
        "Milestone submitted",
        lambda d: f"{_who(d)} submitted a milestone of {_order(d)} for your review.",
    ),
    "milestone_rejected": (
        "Milestone changes asked",
        lambda d: f"{_who(d)} asked for changes to a milestone of {_order(d)}.",
    ),
    "milestone_accepted": (
        "Milestone accepted",
        lambda d: f"A milestone of {_order(d)} was accepted and paid to the seller.",
    ),
    "milestone_auto_release_reminder": (
        "Milestone release soon",
        lambda d: f"A submitted milestone of {_order(d)} will be accepted automatically soon.",
    ),
}

KINDS: dict[str, Kind] = {
    "new_message": Kind(
        name="new_message",
        label="New messages",
        category="messages",
        default_in_app=True,
        default_email=True,
        required=("conversation_id", "message_id"),
        render=_message_text,
        group_key=lambda d: f"conversation:{int(d['conversation_id'])}",
    ),
    # An @handle of yours in a conversation you take part in (replaces that message's
    # new_message for you while you want mentions in the app or by email).
    "mention": Kind(
        name="mention",
        label="Mentions (@you)",
        category="messages",
        default_in_app=True,
        default_email=True,
        required=("conversation_id", "message_id"),
        render=_mention_text,
        group_key=lambda d: f"conversation:{int(d['conversation_id'])}",
        action_label="Open the conversation",
    ),
    **{
        name: Kind(
            name=name,
            label=label,
            category="orders",
            default_in_app=True,
            default_email=True,
            required=("order_id",),
            render=render,
            group_key=_by_order,
        )
        for name, (label, render) in _ORDER_TEXTS.items()
    },
    # Account events: the accounts domain already emails these itself (security
    # notices must not depend on preferences), so the default here is in-app only.
    "password_changed": Kind(
        name="password_changed",
        label="Password changed",
        category="account",
        default_in_app=True,
        default_email=False,
        required=(),
        render=lambda d: "Your password was changed.",
        group_key=lambda d: "account",
    ),
    "email_changed": Kind(
        name="email_changed",
        label="Email address changed",
        category="account",
        default_in_app=True,
        default_email=False,
        required=(),
        render=lambda d: (
            "Your email address was changed."
            + (f" It is now {d['new_email']}." if d.get("new_email") else "")
        ),
        group_key=lambda d: "account",
    ),
    # Gig moderation (app/gigs/moderation.py): the seller hears the operators' decision and
    # reason; operators hear of gigs waiting for review. Handlers in notifications/events.py.
    **{
        name: Kind(
            name=name,
            label=label,
            category="gigs",
            default_in_app=True,
            default_email=True,
            required=("gig_id",),
            render=render,
            group_key=group,
        )
        for name, (label, render, group) in {
            "gig_approved": (
                "Gig approved",
                lambda d: f"Your gig {_gig(d)} was approved: it is live.",
                lambda d: f"gig:{int(d['gig_id'])}",
            ),
            "gig_rejected": (
                "Gig not approved",
                lambda d: f"Your gig {_gig(d)} was not approved: {_snippet(d.get('reason', ''), 300)}",
                lambda d: f"gig:{int(d['gig_id'])}",
            ),
            "gig_paused_by_operator": (
                "Gig paused by the marketplace",
                lambda d: f"The marketplace paused your gig {_gig(d)}: {_snippet(d.get('reason', ''), 300)}",
                lambda d: f"gig:{int(d['gig_id'])}",
            ),
            "gig_submitted": (
                "Gig waiting for review (operators)",
                lambda d: f"{_who(d, 'A seller')} sent {_gig(d)} for review.",
                lambda d: "moderation",
            ),
        }.items()
    },
    # Reviews (app/reviews/services.py, reputation.py): handlers in notifications/events.py.
    **{
        name: Kind(
            name=name,
            label=label,
            category="reviews",
            default_in_app=True,
            default_email=True,
            required=required,
            render=render,
            group_key=group,
            action_label=action,
        )
        for name, (label, required, render, group, action) in {
            "review_requested": (
                "Time to leave a review",
                ("order_id",),
                lambda d: (
                    f"Leave a review of {_who(d, 'the other side')} for {_order(d)}"
                    + (f": you have {_days(d['days_left'])}." if d.get("days_left") else ".")
                ),
                _by_order,
                "Write your review",
            ),
            "review_submitted": (
                "The other side left a review",
                ("order_id",),
                lambda d: (
                    f"{_who(d)} reviewed {_order(d)}. Write yours to see it: both reviews are "
                    "published together."
                ),
                _by_order,
                "Write your review",
            ),
            "review_published": (
                "You have a new review",
                ("order_id",),
                lambda d: f"You have a new review from {_who(d)} on {_order(d)}.",
                _by_order,
                "Read the review",
            ),
            "review_reminder": (
                "Last days to leave a review",
                ("order_id", "days_left"),
                lambda d: f"{_first_upper(_days(d['days_left']))} left to review {_order(d)}.",
                _by_order,
                "Write your review",
            ),
            "review_replied": (
                "Reply to your review",
                ("order_id",),
                lambda d: f"{_who(d)} replied to your review of {_order(d)}.",
                _by_order,
                "Read the reply",
            ),
            "review_moderated": (
                "Moderation of your reviews",
                ("order_id", "action"),
                _moderation_text,
                _by_order,
                "See your review",
            ),
            "seller_level_changed": (
                "Seller level changes",
                ("new",),
                _level_text,
                lambda d: "seller-level",
                "See your profile",
            ),
        }.items()
    },
    # Jobs (app/jobs/services.py, proposals.py): handlers in notifications/events.py.
    **{
        name: Kind(
            name=name,
            label=label,
            category="jobs",
            default_in_app=True,
            default_email=True,
            required=("job_id",),
            render=render,
            group_key=lambda d: f"job:{int(d['job_id'])}",
            action_label=action,
        )
        for name, (label, render, action) in {
            "proposal_received": (
                "A proposal for your job",
                lambda d: f"{_who(d, 'A freelancer')} sent a proposal for your job {_job(d)}.",
                "See the proposals",
            ),
            "proposal_declined": (
                "Your proposal was declined",
                lambda d: (
                    f"Your proposal for {_job(d)} was declined"
                    + (f": {_snippet(d['message'], 300)}" if d.get("message") else ".")
                ),
                "See the job",
            ),
            "job_invite": (
                "An invitation to apply to a job",
                lambda d: f"{_who(d, 'A client')} invited you to apply to {_job(d)}.",
                "See the job",
            ),
            "job_filled": (
                "A job you applied to was filled",
                lambda d: f"{_first_upper(_job(d))} was filled: the client hired another freelancer.",
                "See your proposals",
            ),
            "job_closed_by_operator": (
                "Your job was closed by the marketplace",
                lambda d: f"The marketplace closed your job {_job(d)}: {_snippet(d.get('reason', ''), 300)}",
                "See the job",
            ),
        }.items()
    },
    # Contracts (app/contracts/services.py): handlers in notifications/events.py.
    **{
        name: Kind(
            name=name,
            label=label,
            category="jobs",
            default_in_app=True,
            default_email=email,
            required=("contract_id",),
            render=render,
            group_key=lambda d: f"contract:{int(d['contract_id'])}",
            action_label=action,
        )
        for name, (label, render, action, email) in {
            "contract_offered": (
                "A contract offer for you",
                lambda d: f"{_who(d, 'A client')} offered you a contract: {_contract(d)}.",
                "See the offer",
                True,
            ),
            "contract_declined": (
                "Your contract offer was declined",
                lambda d: (
                    f"{_who(d, 'The freelancer')} declined your offer {_contract(d)}"
                    + (f": {_snippet(d['reason'], 300)}" if d.get("reason") else ".")
                ),
                "See the contract",
                True,
            ),
            "contract_withdrawn": (
                "A contract offer was withdrawn",
                lambda d: f"The offer {_contract(d)} was withdrawn.",
                "See the contract",
                False,
            ),
            "contract_created": (
                "Your offer was accepted: sign the Statement of Work",
                lambda d: (
                    f"{_who(d, 'The freelancer')} accepted {_contract(d)}: "
                    "sign the Statement of Work to start."
                ),
                "Sign the Statement of Work",
                True,
            ),
            "contract_signed": (
                "The other party signed the Statement of Work",
                lambda d: f"{_who(d)} signed the Statement of Work of {_contract(d)}.",
                "See the contract",
                False,
            ),
            "contract_activated": (
                "A contract started",
                lambda d: (
                    f"{_first_upper(_contract(d))} is signed by both and active: "
                    "milestone 1 is waiting for funding."
                ),
                "See the contract",
                True,
            ),
            "contract_change_proposed": (
                "A change to a contract's milestones",
                lambda d: f"{_who(d)} proposed a change to the milestones of {_contract(d)}.",
                "Answer it",
                True,
            ),
            "contract_change_answered": (
                "An answer to your milestone change",
                lambda d: (
                    f"{_who(d)} withdrew the change they proposed to {_contract(d)}."
                    if d.get("status") == "withdrawn"
                    else f"{_who(d)} {d.get('status') or 'answered'} your change to {_contract(d)}."
                ),
                "See the contract",
                True,
            ),
            "contract_ended": (
                "A contract ended",
                lambda d: (
                    f"{_first_upper(_contract(d))} ended"
                    + (" by the marketplace" if d.get("by_operator") else "")
                    + (f" ({d['status']})" if d.get("status") else "")
                    + (f": {_snippet(d['reason'], 300)}" if d.get("reason") else ".")
                ),
                "See the contract",
                True,
            ),
        }.items()
    },
    # Hourly contracts (app/hourly/services.py): timesheets, pauses and rate changes; handlers
    # in notifications/events.py. ``data``: contract_id (and timesheet_id), the contract's title,
    # the week ("2 Mar"), the hours ("10 h") and the amount formatted when they are known.
    **{
        name: Kind(
            name=name,
            label=label,
            category="hourly",
            default_in_app=True,
            default_email=True,
            required=("contract_id",),
            render=render,
            group_key=lambda d: f"contract:{int(d['contract_id'])}",
            action_label=action,
        )
        for name, (label, render, action) in {
            "timesheet_submitted": (
                "A timesheet to review",
                lambda d: (
                    f"{_who(d, 'The freelancer')}'s timesheet for the week of {d.get('week', '?')}: "
                    f"{d.get('hours', '?')}, {d.get('amount', '?')}"
                    + (f" — review by {d['review_by']}" if d.get("review_by") else "")
                    + (", or it is approved automatically." if d.get("review_by") else ".")
                ),
                "Review the timesheet",
            ),
            "timesheet_approved": (
                "Your timesheet was approved",
                lambda d: (
                    f"Your timesheet for the week of {d.get('week', '?')} ({d.get('amount', '?')}) was "
                    + ("approved automatically" if d.get("auto") else f"approved by {_who(d, 'the client')}")
                    + f" on {_contract(d)}: the payment follows."
                ),
                "See the timesheet",
            ),
            "timesheet_billed": (
                "A timesheet was paid",
                lambda d: (
                    f"{d.get('amount', '?')} for the week of {d.get('week', '?')} on {_contract(d)} "
                    + (
                        "was charged to your card."
                        if d.get("role") == "client"
                        else "is paid to you (it clears after the marketplace's clearance delay)."
                    )
                ),
                "See the timesheet",
            ),
            "timesheet_payment_failed": (
                "A timesheet's payment failed",
                lambda d: (
                    f"The charge of {d.get('amount', '?')} for the week of {d.get('week', '?')} on "
                    f"{_contract(d)} failed"
                    + (f" ({_snippet(d['reason'], 200)})" if d.get("reason") else "")
                    + (
                        ": update your card and pay it again; the contract is paused until then."
                        if d.get("role") == "client"
                        else ": the contract is paused until the client pays it. Do not log more time yet."
                    )
                ),
                "See the timesheet",
            ),
            "contract_paused": (
                "An hourly contract was paused",
                lambda d: (
                    f"{_first_upper(_contract(d))} is paused: a weekly payment failed."
                    if d.get("reason") == "payment_failed"
                    else f"{_who(d)} paused {_contract(d)}: no time is logged until it resumes."
                ),
                "See the contract",
            ),
            "contract_resumed": (
                "An hourly contract resumed",
                lambda d: (
                    f"{_first_upper(_contract(d))} resumed: the failed payment was made."
                    if d.get("reason") == "payment_received"
                    else f"{_who(d)} resumed {_contract(d)}: time can be logged again."
                ),
                "See the contract",
            ),
            "contract_rate_change_proposed": (
                "A new rate or weekly limit proposed",
                lambda d: (
                    f"{_who(d)} proposed new terms for {_contract(d)}: "
                    f"{d.get('rate', '?')} an hour, at most {d.get('cap', '?')} h a week, from the next week."
                ),
                "Answer it",
            ),
            "contract_rate_change_answered": (
                "An answer to a rate change",
                lambda d: (
                    f"{_who(d)} withdrew the new terms they proposed for {_contract(d)}."
                    if d.get("status") == "withdrawn"
                    else f"{_who(d)} {d.get('status') or 'answered'} the new terms for {_contract(d)}"
                    + (f": they apply from the week of {d['effective']}." if d.get("effective") else ".")
                ),
                "See the contract",
            ),
        }.items()
    },
    # Disputes (app/disputes/services.py): handlers in notifications/events.py.
    **{
        name: Kind(
            name=name,
            label=label,
            category="disputes",
            default_in_app=True,
            default_email=True,
            required=("dispute_id",),
            render=render,
            group_key=lambda d: f"dispute:{int(d['dispute_id'])}",
            action_label=action,
        )
        for name, (label, render, action) in {
            "dispute_opened": (
                "A dispute was opened with you",
                lambda d: (
                    f"{_who(d)} opened {_dispute(d)}: the money in escrow is locked. "
                    + (
                        f"Answer by {d['deadline']} UTC, or it is resolved for them."
                        if d.get("deadline")
                        else ""
                    )
                ).strip(),
                "Answer the dispute",
            ),
            "dispute_activity": (
                "News in a dispute",
                lambda d: {
                    "evidence_added": f"{_who(d)} added evidence to {_dispute(d)}.",
                    "proposal_made": f"{_who(d)} proposed a resolution of {_dispute(d)}.",
                    "mediator_proposal": (
                        f"The mediator proposed a resolution of {_dispute(d)}: accept or refuse it."
                    ),
                    "proposal_answered": f"{_who(d)} answered a proposal in {_dispute(d)}.",
                    "message": f"{_who(d)} wrote in {_dispute(d)}"
                    + (f": {_snippet(d['snippet'])}" if d.get("snippet") else "."),
                    "assigned": f"A mediator ({_who(d)}) now handles {_dispute(d)}.",
                }.get(d.get("step"), f"{_first_upper(_dispute(d))} has news."),
                "See the dispute",
            ),
            "dispute_escalated": (
                "A dispute went up a step",
                lambda d: {
                    "mediation": f"{_first_upper(_dispute(d))} is now in the marketplace's mediation.",
                    "decision": f"{_first_upper(_dispute(d))} goes to an admin's decision.",
                    "expert_review": f"{_first_upper(_dispute(d))} is with an expert for review.",
                }.get(d.get("stage"), f"{_first_upper(_dispute(d))} went up a step."),
                "See the dispute",
            ),
            "dispute_expert_requested": (
                "Your assessment is asked",
                lambda d: f"A mediator asks for your written assessment of {_dispute(d)}.",
                "Review the case",
            ),
            "dispute_resolved": (
                "A dispute is resolved",
                lambda d: (
                    f"{_first_upper(_dispute(d))} is "
                    + {
                        "resolved_client": "resolved: the money is refunded to the buyer",
                        "resolved_freelancer": "resolved: the money is released to the seller",
                        "resolved_split": f"resolved with a split: {d.get('split_text', '')}".rstrip(": "),
                        "dismissed": "closed without a ruling: the work goes on where it was",
                    }.get(d.get("outcome"), "resolved")
                    + "."
                ),
                "See the outcome",
            ),
        }.items()
    },
    # The contract workroom (app/workroom): a calendar reminder before an occurrence of a meeting
    # or stand-up; a task the other party assigned to you. Handlers in notifications/events.py.
    "calendar_reminder": Kind(
        name="calendar_reminder",
        label="A meeting or stand-up is about to start",
        category="jobs",
        default_in_app=True,
        default_email=True,
        required=("contract_id", "event_id"),
        render=lambda d: (
            f"{_first_upper(str(d.get('title') or 'A meeting'))} starts "
            + (f"at {d['when']}" if d.get("when") else "soon")
            + f" ({_contract(d)})."
        ),
        group_key=lambda d: f"contract:{int(d['contract_id'])}",
        action_label="Open the workroom",
    ),
    "task_assigned": Kind(
        name="task_assigned",
        label="A task was assigned to you",
        category="jobs",
        default_in_app=True,
        default_email=False,
        required=("contract_id", "task_id"),
        render=lambda d: (
            f"{_who(d)} assigned you “{_snippet(d.get('task_title', ''), 120)}” in {_contract(d)}."
        ),
        group_key=lambda d: f"contract:{int(d['contract_id'])}",
        action_label="Open the board",
    ),
    # Code & CI (app/code: the repository's webhook), handlers in notifications/events.py: the
    # client hears of a merged pull request, the freelancer of CI failing on an open one.
    "pr_merged": Kind(
        name="pr_merged",
        label="A pull request of your contract was merged",
        category="jobs",
        default_in_app=True,
        default_email=True,
        required=("contract_id", "pull_request_id", "number", "repo"),
        render=lambda d: (
            f"{_pr(d)} “{_snippet(d.get('pr_title', ''), 120)}” was merged in {d['repo']} ({_contract(d)})."
        ),
        group_key=lambda d: f"contract:{int(d['contract_id'])}",
        action_label="See the repository",
    ),
    "ci_failed": Kind(
        name="ci_failed",
        label="CI failed on one of your open pull requests",
        category="jobs",
        default_in_app=True,
        default_email=False,
        required=("contract_id", "pull_request_id", "number", "repo"),
        render=lambda d: (
            f"CI failed on {_pr(d)} “{_snippet(d.get('pr_title', ''), 120)}” in {d['repo']}"
            + (f": {_snippet(d['summary'], 120)}" if d.get("summary") else "")
            + "."
        ),
        group_key=lambda d: f"contract:{int(d['contract_id'])}",
        action_label="See the repository",
    ),
    # The antivirus (app/storage/files.py) blocked a file the user uploaded: its bytes were
    # moved out of reach. Handler in notifications/events.py (``file.quarantined``).
    "file_quarantined": Kind(
        name="file_quarantined",
        label="A file you uploaded was blocked by the virus scanner",
        category="account",
        default_in_app=True,
        default_email=True,
        required=("file_id", "signature"),
        render=lambda d: (
            "A file you uploaded"
            + (f" (“{_snippet(d['filename'], 80)}”)" if d.get("filename") else "")
            + f" was blocked: it contained {_snippet(d['signature'], 120)}."
        ),
        group_key=lambda d: "files",
    ),
    # Payouts (app/payments/backoffice.py): an operator held or released the seller's payouts,
    # or the seller's identity check (KYC) changed. The hold's reason is the operators' (not
    # told: "contact support"). Handlers in notifications/events.py.
    **{
        name: Kind(
            name=name,
            label=label,
            category="account",
            default_in_app=True,
            default_email=True,
            required=required,
            render=render,
            group_key=lambda d: "payouts",
            action_label="See your earnings",
        )
        for name, (label, required, render) in {
            "payout_held": (
                "Your payouts were put on hold",
                ("hold_id",),
                lambda d: (
                    "The marketplace put your payouts on hold. Your balance stays available; "
                    "contact support to know more."
                ),
            ),
            "payout_hold_released": (
                "Your payouts are no longer on hold",
                ("hold_id",),
                lambda d: "The hold on your payouts was released: you can request payouts again.",
            ),
            "payout_kyc_changed": (
                "Identity verification for payouts",
                ("status",),
                lambda d: {
                    "verified": "Your identity is verified: you can request payouts.",
                    "rejected": "Your identity verification was not accepted"
                    + (f": {_snippet(d['note'], 300)}" if d.get("note") else ".")
                    + " Contact support to be paid out.",
                    "pending": "Your identity verification is in progress.",
                }.get(d["status"], "Your identity verification needs your attention."),
            ),
        }.items()
    },
}

CATEGORIES = (
    ("messages", "Messages"),
    ("orders", "Orders"),
    ("reviews", "Reviews and seller level"),
    ("gigs", "Gigs"),
    ("jobs", "Jobs, proposals and contracts"),
    ("hourly", "Hourly contracts and timesheets"),
    ("disputes", "Disputes"),
    ("account", "Account"),
)


def get_kind(name: str) -> Kind | None:
    return KINDS.get(name) if isinstance(name, str) else None
