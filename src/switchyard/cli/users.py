"""``switchyard users``: create, list, reset and delete the people who sign in to the web console.

A password is never a command-line value (shell history, process lists): it is asked for twice without
echo, or read from stdin with --password-stdin. It is never printed.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from switchyard.cli.output import (
    JsonOption,
    TenantOption,
    print_fields,
    print_json,
    print_table,
    require_confirmation,
    say,
)
from switchyard.cli.runtime import run_with_container
from switchyard.core.models import ConsoleUser
from switchyard.services.container import Container

app = typer.Typer(
    name="users", help="Create, list, reset and delete web console users.", no_args_is_help=True
)


def _user_json(user: ConsoleUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "tenant_id": user.tenant_id,
        "email": user.email,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.read().removesuffix("\n").removesuffix("\r")
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return prompted


@app.command()
def create(
    tenant: TenantOption,
    email: Annotated[
        str, typer.Option("--email", "-e", metavar="EMAIL", help="The address to sign in with.")
    ],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from stdin (one trailing newline dropped) instead of asking twice.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a console user of a tenant (at least 12 characters of password; never printed)."""
    password = _read_password(password_stdin)

    async def work(container: Container) -> ConsoleUser:
        return await container.console.create_user(tenant, email, password)

    user = run_with_container(work)
    if as_json:
        print_json(_user_json(user))
        return
    print_fields([("user id", user.id), ("email", user.email), ("tenant id", user.tenant_id)])


@app.command("set-password")
def set_password(
    tenant: TenantOption,
    email: Annotated[str, typer.Option("--email", "-e", metavar="EMAIL", help="The user's address.")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the new password from stdin (one trailing newline dropped) instead of asking twice.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Set a console user's password (a forgotten one, say) and end all of their sessions."""
    password = _read_password(password_stdin)

    async def work(container: Container) -> ConsoleUser:
        return await container.console.set_password(tenant, email, password)

    user = run_with_container(work)
    if as_json:
        print_json(_user_json(user))
        return
    say(f"new password set for {user.email}; their sessions were ended")


@app.command()
def delete(
    tenant: TenantOption,
    email: Annotated[str, typer.Option("--email", "-e", metavar="EMAIL", help="The user's address.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
) -> None:
    """Delete a console user; they are signed out everywhere. Asks first unless --yes; without a terminal
    to ask on, --yes is required."""
    require_confirmation(yes, "delete", f"console user {email!r}")
    if not yes:
        typer.confirm(f"Delete console user {email!r}?", abort=True, err=True)

    async def work(container: Container) -> None:
        await container.console.delete_user(tenant, email)

    run_with_container(work)
    say(f"deleted console user {email.strip().lower()}")


@app.command("list")
def list_users(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """List a tenant's console users."""

    async def work(container: Container) -> list[ConsoleUser]:
        found = await container.tenancy.find_tenant(tenant)
        return await container.console.list_users(found.id)

    users = run_with_container(work)
    if as_json:
        print_json({"users": [_user_json(user) for user in users]})
        return
    print_table(
        ["ID", "EMAIL", "CREATED", "LAST SIGN-IN"],
        ([u.id, u.email, u.created_at, u.last_login_at] for u in users),
        empty="no console users yet; create one with: switchyard users create --tenant NAME --email EMAIL",
    )
