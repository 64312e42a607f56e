"""Repository links of a contract, the pull requests and CI runs their webhooks report, and the
deliveries already applied (issue #17, module F; migration t0029).

A ``RepoLink`` ties one GitHub or GitLab repository (``full_name``, lower-cased) to a contract
with a webhook secret stored encrypted (``app.core.crypto``, like the tenants' Stripe keys) and
shown once. Removing a link keeps its rows (``removed_at``): its PRs and CI runs stay quotable
as dispute evidence, and its webhook is refused from then on. Everything else arrives by webhook
(``app.code.services.receive_webhook``); nothing here calls GitHub or GitLab.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

PROVIDERS = ("github", "gitlab")
PR_STATES = ("open", "closed", "merged")
CI_STATUSES = ("queued", "running", "passed", "failed", "cancelled")
# check_suite / pipeline: one row per run of a commit; check_run / job: one row per check in it.
CI_KINDS = ("check_suite", "check_run", "pipeline", "job")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class RepoLink(TenantModel):
    """One repository linked to one contract. ``secret_encrypted``: the webhook secret (Fernet)."""

    __tablename__ = "repo_links"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("provider", PROVIDERS), name="provider"),
        sa.CheckConstraint("full_name = lower(full_name)", name="full_name_lower"),
        # One live link per repository and contract (a removed one may be linked again).
        sa.Index(
            "uq_repo_links_live",
            "contract_id",
            "provider",
            "full_name",
            unique=True,
            postgresql_where=sa.text("removed_at is null"),
        ),
        # The webhook finds its candidates by repository.
        sa.Index(
            "ix_repo_links_provider_full_name",
            "provider",
            "full_name",
            postgresql_where=sa.text("removed_at is null"),
        ),
        sa.Index("ix_repo_links_contract_id", "contract_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.contracts.id", ondelete="CASCADE")
    )
    provider: Mapped[str] = mapped_column(sa.String(8))
    full_name: Mapped[str] = mapped_column(sa.String(255))
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    created_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    removed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    removed_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    last_delivery_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    @property
    def is_live(self) -> bool:
        return self.removed_at is None

    @property
    def web_url(self) -> str:
        host = "github.com" if self.provider == "github" else "gitlab.com"
        return f"https://{host}/{self.full_name}"


class PullRequest(TenantModel):
    """A pull request (GitHub) or merge request (GitLab) of a linked repository, as last reported.
    ``updated_at`` is the provider's time of that report (older reports are not applied)."""

    __tablename__ = "pull_requests"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("state", PR_STATES), name="state"),
        sa.CheckConstraint("number > 0", name="number"),
        sa.UniqueConstraint("link_id", "number"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    link_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.repo_links.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    url: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    author: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    state: Mapped[str] = mapped_column(sa.String(8), default="open", server_default="open")
    head_sha: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    merged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class CiRun(TenantModel):
    """A CI result for a commit of a linked repository: a GitHub check suite or check run, a
    GitLab pipeline or one of its jobs (``kind``). ``external_id`` is the provider's id prefixed
    by the kind (``run:123``), unique per link."""

    __tablename__ = "ci_runs"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", CI_STATUSES), name="status"),
        sa.CheckConstraint(_in("kind", CI_KINDS), name="kind"),
        sa.UniqueConstraint("link_id", "external_id"),
        sa.Index("ix_ci_runs_link_id_head_sha", "link_id", "head_sha"),
        sa.Index("ix_ci_runs_pull_request_id", "pull_request_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    link_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.repo_links.id", ondelete="CASCADE"))
    pull_request_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.pull_requests.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    external_id: Mapped[str] = mapped_column(sa.String(80))
    head_sha: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    name: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(12))
    summary: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    url: Mapped[str | None] = mapped_column(sa.String(500))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class CodeDelivery(TenantModel):
    """A webhook delivery already applied (``X-GitHub-Delivery`` / ``X-Gitlab-Event-UUID``): a
    replay of it changes nothing."""

    __tablename__ = "code_deliveries"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("provider", PROVIDERS), name="provider"),
        sa.UniqueConstraint("provider", "delivery_id"),
        sa.Index("ix_code_deliveries_link_id", "link_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(8))
    delivery_id: Mapped[str] = mapped_column(sa.String(100))
    link_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.repo_links.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
