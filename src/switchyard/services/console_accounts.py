"""Console accounts: the people who sign in to the web console, their sessions, and the first-run set-up.

- Passwords are hashed with argon2id (``argon2-cffi``, its RFC 9106 parameters), in a worker thread; a
  hash made with weaker parameters is replaced at the next sign-in. An unknown email is checked against a
  dummy hash, so the time taken does not tell which emails exist; both failures are one error.
- Sign-in attempts are counted before the password is checked: 10 per 15 minutes per email (keyed by its
  digest) and 30 per 15 minutes per client address.
- A session is a random token (``sys_...``) in a cookie, stored as its SHA-256 digest, valid for
  ``session_ttl``; ``last_seen_at`` is written at most once a minute.
- Before the first console user exists, ``setup_link`` issues a one-time link (valid ``setup_ttl``) that
  creates the tenant and that user. Using it is atomic: two submissions cannot both succeed.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from switchyard.core.auth import tokens
from switchyard.core.clock import utcnow
from switchyard.core.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthenticated
from switchyard.core.http import Rate
from switchyard.core.ids import new_id
from switchyard.core.models import ConsoleSession, ConsoleSetupLink, ConsoleUser, Principal, Tenant
from switchyard.core.scopes import Scope
from switchyard.io_ports import RateLimiter
from switchyard.logs import get_logger
from switchyard.ports import Database, Transaction
from switchyard.services.tenancy import TENANT_NAME, TenancyService

log = get_logger("switchyard.console")

SESSION_PREFIX = "sys_"
SETUP_PREFIX = "setup_"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_EMAIL = 320
TOUCH_EVERY = timedelta(minutes=1)
EMAIL_RATES = (Rate(10, 15 * 60),)
CLIENT_RATES = (Rate(30, 15 * 60),)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 (low-memory) parameters


@dataclass(frozen=True)
class SignedIn:
    user: ConsoleUser
    token: str  # the session cookie value, shown once; stored only as tokens.digest(token)
    expires_at: datetime

    def __repr__(self) -> str:
        return f"SignedIn(user={self.user!r}, token=<hidden>, expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class Signed:
    """A live session."""

    user: ConsoleUser
    session: ConsoleSession
    principal: Principal


def login_failed() -> Unauthenticated:
    return Unauthenticated("the email or password is not right", code="console.login_failed")


def session_invalid() -> Unauthenticated:
    return Unauthenticated("sign in to continue", code="console.session_invalid")


def setup_link_invalid() -> Unauthenticated:
    return Unauthenticated(
        "the set-up link is unknown, expired or already used",
        code="console.setup_link_invalid",
        remediation="Restart the server to get a new set-up link, or run: switchyard users create",
    )


def setup_done() -> Conflict:
    return Conflict(
        "the console is already set up",
        code="console.setup_done",
        remediation="Sign in, or ask a console user to add you (switchyard users create).",
    )


def user_exists() -> Conflict:
    return Conflict("a console user with this email already exists", code="console_user.exists")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The normalised address, or InvalidInput when it does not look like one."""
    normalised = normalise_email(email)
    if len(normalised) > MAX_EMAIL or not _EMAIL.fullmatch(normalised):
        raise InvalidInput("this is not an email address", code="console_user.invalid_email")
    return normalised


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            "the password is too short or too long",
            code="console_user.weak_password",
            remediation=f"Use a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
        )


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(_verify, password_hash, password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("not the password of anyone at all")


async def _verify_dummy(password: str) -> None:
    """The cost of a real check, for an email that has no account."""
    await verify_password(await asyncio.to_thread(_dummy_hash), password)


class ConsoleAccounts:
    def __init__(
        self,
        db: Database,
        tenancy: TenancyService,
        limiter: RateLimiter,
        *,
        public_base_url: str,
        session_ttl: timedelta = timedelta(hours=12),
        setup_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self.db = db
        self.tenancy = tenancy
        self.limiter = limiter
        self.public_base_url = public_base_url.rstrip("/")
        self.session_ttl = session_ttl
        self.setup_ttl = setup_ttl

    # Users

    async def create_user(self, tenant: str, email: str, password: str) -> ConsoleUser:
        """A console user of ``tenant`` (its name or id)."""
        address = check_email(email)
        check_password(password)
        found = await self.tenancy.find_tenant(tenant)
        user = ConsoleUser(
            id=new_id("cus"),
            tenant_id=found.id,
            email=address,
            password_hash=await hash_password(password),
            created_at=utcnow(),
        )
        try:
            async with self.db.transaction() as tx:
                await self._add_user(tx, user)
        except Conflict as exc:  # also a concurrent sign-up with the same email (the unique index)
            raise user_exists() from exc
        log.info("console_user.created", tenant_id=user.tenant_id, user_id=user.id)
        return user

    async def list_users(self, tenant_id: str) -> list[ConsoleUser]:
        async with self.db.transaction(write=False) as tx:
            return await tx.console_users.all(tenant_id)

    async def has_users(self) -> bool:
        async with self.db.transaction(write=False) as tx:
            return await tx.console_users.any()

    # Sessions

    async def log_in(self, email: str, password: str, *, client: str) -> SignedIn:
        address = normalise_email(email)
        await self._count_attempt(address, client)
        async with self.db.transaction(write=False) as tx:
            user = await tx.console_users.find_by_email(address)
        if user is None:
            await _verify_dummy(password)
            raise login_failed()
        if not await verify_password(user.password_hash, password):
            log.info("console.login_failed", tenant_id=user.tenant_id, user_id=user.id)
            raise login_failed()
        if _hasher.check_needs_rehash(user.password_hash):
            rehashed = await hash_password(password)
            async with self.db.transaction() as tx:
                await tx.console_users.set_password_hash(user.tenant_id, user.id, rehashed)
        return await self._sign_in(user)

    async def resolve(self, token: str | None) -> Signed:
        """The live session behind a cookie value; missing, unknown and expired ones are one error."""
        if not token:
            raise session_invalid()
        now = utcnow()
        async with self.db.transaction(write=False) as tx:
            session = await tx.console_sessions.find(tokens.digest(token))
            user = await tx.console_users.get(session.tenant_id, session.user_id) if session else None
        if session is None or user is None or session.expires_at <= now:
            raise session_invalid()
        if now - session.last_seen_at >= TOUCH_EVERY:
            async with self.db.transaction() as tx:
                await tx.console_sessions.touch(session.tenant_id, session.id, now)
        principal = Principal(user.tenant_id, actor=f"user:{user.email}", scopes=frozenset({Scope.ADMIN}))
        return Signed(user, session, principal)

    async def log_out(self, token: str | None) -> None:
        if not token:
            return
        async with self.db.transaction() as tx:
            session = await tx.console_sessions.find(tokens.digest(token))
            if session is not None:
                await tx.console_sessions.delete(session.tenant_id, session.id)

    async def change_password(self, signed: Signed, current: str, new: str) -> None:
        """Check the current password, set the new one, and end the user's other sessions."""
        user = signed.user
        await self._count_attempt(user.email, None)
        async with self.db.transaction(write=False) as tx:
            stored = await tx.console_users.get(user.tenant_id, user.id)
        if stored is None:
            raise session_invalid()
        if not await verify_password(stored.password_hash, current):
            raise InvalidInput(
                "the current password is not right",
                code="console.password_wrong",
                remediation="Enter the password you sign in with now.",
            )
        check_password(new)
        rehashed = await hash_password(new)
        async with self.db.transaction() as tx:
            await tx.console_users.set_password_hash(user.tenant_id, user.id, rehashed)
            await tx.console_sessions.delete_for_user(user.tenant_id, user.id, keep=signed.session.id)
        log.info("console_user.password_changed", tenant_id=user.tenant_id, user_id=user.id)

    async def set_password(self, tenant: str, email: str, password: str) -> ConsoleUser:
        """An operator's reset (``switchyard users set-password``): a new password, every session ended."""
        user = await self._user_of(tenant, email)
        check_password(password)
        password_hash = await hash_password(password)
        async with self.db.transaction() as tx:
            await tx.console_users.set_password_hash(user.tenant_id, user.id, password_hash)
            await tx.console_sessions.delete_for_user(user.tenant_id, user.id)
        log.info("console_user.password_reset", tenant_id=user.tenant_id, user_id=user.id)
        return user

    async def delete_user(self, tenant: str, email: str) -> None:
        """Remove a console user of ``tenant``; their sessions go with them."""
        user = await self._user_of(tenant, email)
        async with self.db.transaction() as tx:
            await tx.console_sessions.delete_for_user(user.tenant_id, user.id)
            await tx.console_users.delete(user.tenant_id, user.id)
        log.info("console_user.deleted", tenant_id=user.tenant_id, user_id=user.id)

    async def _user_of(self, tenant: str, email: str) -> ConsoleUser:
        found = await self.tenancy.find_tenant(tenant)
        async with self.db.transaction(write=False) as tx:
            user = await tx.console_users.find_by_email(normalise_email(email))
        if user is None or user.tenant_id != found.id:
            raise NotFound(
                f"no console user {normalise_email(email)[:320]!r} in this tenant",
                code="console_user.not_found",
                remediation="List them with: switchyard users list --tenant NAME",
            )
        return user

    # First-run set-up

    async def setup_link(self) -> str | None:
        """A new one-time set-up URL while no console user exists, else None."""
        token = tokens.new_token(SETUP_PREFIX)
        now = utcnow()
        link = ConsoleSetupLink(
            id=new_id("csl"),
            token_digest=tokens.digest(token),
            created_at=now,
            expires_at=now + self.setup_ttl,
        )
        async with self.db.transaction() as tx:
            if await tx.console_users.any():
                return None
            await tx.console_setup_links.add(link)
        return f"{self.public_base_url}/console/setup?token={token}"

    async def check_setup_token(self, token: str | None) -> None:
        await self._live_link(token)

    async def complete_setup(self, token: str | None, *, tenant: str, email: str, password: str) -> SignedIn:
        """Create the tenant (unless one of that name exists) and the first console user, and sign in."""
        link = await self._live_link(token)
        address = check_email(email)
        check_password(password)
        existing = await self._tenant_named(tenant)
        if existing is None and not TENANT_NAME.fullmatch(tenant):
            raise InvalidInput(
                f"invalid tenant name {tenant[:80]!r}",
                code="tenant.invalid_name",
                remediation="Use 1-63 lowercase letters, digits and '-', starting with a letter or digit.",
            )
        password_hash = await hash_password(password)
        now = utcnow()
        async with self.db.transaction() as tx:  # all or nothing: a failure leaves the link unused
            if await tx.console_users.any():
                raise setup_done()
            if not await tx.console_setup_links.use(link.id, now):
                raise setup_link_invalid()
            target = await tx.tenants.get_by_name(tenant)
            if target is None:
                target = Tenant(id=new_id("ten"), name=tenant, created_at=now)
                await tx.tenants.add(target)
            user = ConsoleUser(
                id=new_id("cus"),
                tenant_id=target.id,
                email=address,
                password_hash=password_hash,
                created_at=now,
            )
            await self._add_user(tx, user)
            signed_in = await self._new_session(tx, user, now)
        log.info("console.setup_completed", tenant_id=user.tenant_id, user_id=user.id)
        return signed_in

    # Helpers

    async def _tenant_named(self, name: str) -> Tenant | None:
        async with self.db.transaction(write=False) as tx:
            return await tx.tenants.get_by_name(name)

    async def _live_link(self, token: str | None) -> ConsoleSetupLink:
        if not token:
            raise setup_link_invalid()
        async with self.db.transaction(write=False) as tx:
            link = await tx.console_setup_links.find(tokens.digest(token))
            taken = await tx.console_users.any()
        if link is None or link.used_at is not None or link.expires_at <= utcnow():
            raise setup_link_invalid()
        if taken:
            raise setup_done()
        return link

    async def _count_attempt(self, address: str, client: str | None) -> None:
        """Count one attempt against the client and the email; refuse when either is over its limit."""
        checks = [(f"console-login:email:{tokens.digest(address)}", EMAIL_RATES)]
        if client is not None:
            checks.insert(0, (f"console-login:client:{client}", CLIENT_RATES))
        for key, rates in checks:
            wait = await self.limiter.hit(key, rates)
            if wait is not None:
                raise RateLimited(
                    "too many sign-in attempts; wait and try again",
                    retry_after=wait,
                    code="console.login_rate_limited",
                )

    async def _add_user(self, tx: Transaction, user: ConsoleUser) -> None:
        if await tx.console_users.find_by_email(user.email) is not None:
            raise user_exists()
        await tx.console_users.add(user)

    async def _sign_in(self, user: ConsoleUser) -> SignedIn:
        now = utcnow()
        async with self.db.transaction() as tx:
            await tx.console_users.signed_in(user.tenant_id, user.id, now)
            return await self._new_session(tx, user, now)

    async def _new_session(self, tx: Transaction, user: ConsoleUser, now: datetime) -> SignedIn:
        token = tokens.new_token(SESSION_PREFIX)
        session = ConsoleSession(
            id=new_id("css"),
            tenant_id=user.tenant_id,
            user_id=user.id,
            token_digest=tokens.digest(token),
            created_at=now,
            expires_at=now + self.session_ttl,
            last_seen_at=now,
        )
        await tx.console_sessions.add(session)
        log.info("console.signed_in", tenant_id=user.tenant_id, user_id=user.id)
        return SignedIn(user, token, session.expires_at)
