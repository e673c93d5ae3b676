"""``switchyard secrets``: a tenant's named secrets, masked unless ``--reveal`` is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from switchyard.api.schemas import SecretOut
from switchyard.cli.output import (
    JsonOption,
    TenantOption,
    print_fields,
    print_json,
    print_table,
    read_hidden,
    require_confirmation,
    say,
)
from switchyard.cli.runtime import run_with_container, tenant_principal
from switchyard.core.errors import Conflict, InvalidInput
from switchyard.core.models import Principal
from switchyard.core.secrets import SecretType
from switchyard.services.container import Container
from switchyard.services.secrets import MAX_PAGE, SecretChanges, SecretView

app = typer.Typer(
    name="secrets",
    help="A tenant's named secrets: set, read (masked unless revealed), list and delete.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The secret's name.", show_default=False)]


@app.command("set")
def set_secret(
    tenant: TenantOption,
    name: NameArgument,
    secret_type: Annotated[
        SecretType | None,
        typer.Option("--type", help="Kind of value; decides how it is masked. New secrets: generic."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the secret is for.")] = None,
    value: Annotated[
        str | None,
        typer.Option(help="The value. Visible in shell history and process lists: prefer stdin or a file."),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, readable=True, help="Read the value from this file, as is."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a secret, or add a new version when it exists (--type and --description, when given, then
    change it too). Without --value or --from-file the value is read from stdin (one trailing newline
    dropped), or asked for without echo when stdin is a terminal."""
    secret_value = _read_value(name, value, from_file)

    async def work(container: Container) -> tuple[SecretView, bool]:
        principal = await tenant_principal(container, tenant)
        return await _create_or_add_version(
            container, principal, name, secret_value, secret_type, description
        )

    view, created = run_with_container(work)
    if as_json:
        print_json(SecretOut.of(view))
        return
    number = view.version.version
    say(f"created secret {name} (version {number})" if created else f"added version {number} to {name}")
    _print_secret(view)


async def _create_or_add_version(
    container: Container,
    principal: Principal,
    name: str,
    value: str,
    secret_type: SecretType | None,
    description: str | None,
) -> tuple[SecretView, bool]:
    """The view, and whether the secret was created (else a version was added)."""
    try:
        created = await container.secrets.create(
            principal,
            name=name,
            value=value,
            type=(secret_type or SecretType.GENERIC).value,
            description=description,
        )
        return created, True
    except Conflict as exc:
        if exc.code != "secret.exists":
            raise
    fields = (
        {"value"}
        | ({"type"} if secret_type else set())
        | ({"description"} if description is not None else set())
    )
    changes = SecretChanges(
        fields=frozenset(fields),
        value=value,
        type=secret_type.value if secret_type else None,
        description=description,
    )
    return await container.secrets.update(principal, name, changes), False


def _read_value(name: str, value: str | None, from_file: Path | None) -> str:
    if value is not None and from_file is not None:
        raise typer.BadParameter("give either --value or --from-file, not both")
    if value is not None:
        return value
    if from_file is not None:
        try:
            return from_file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{from_file} is not UTF-8 text", code="secret.invalid_value", remediation=_BINARY_HINT
            ) from None
    return read_hidden(f"Value of {name}")


_BINARY_HINT = "Secrets hold text; store binary material base64-encoded."


@app.command()
def get(
    tenant: TenantOption,
    name: NameArgument,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show the plaintext value (the access is audited).")
    ] = False,
    version: Annotated[
        int | None, typer.Option(min=1, help="Read this version instead of the current one.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a secret: metadata and its value, masked unless --reveal."""

    async def work(container: Container) -> SecretView:
        principal = await tenant_principal(container, tenant)
        return await container.secrets.get(principal, name, reveal=reveal, version=version)

    view = run_with_container(work)
    if as_json:
        print_json(SecretOut.of(view))
    else:
        _print_secret(view)


@app.command("list")
def list_secrets(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """List every secret of a tenant, values masked."""

    async def work(container: Container) -> list[SecretView]:
        principal = await tenant_principal(container, tenant)
        views: list[SecretView] = []
        cursor: str | None = None
        while True:
            page = await container.secrets.list_secrets(principal, after=cursor, limit=MAX_PAGE)
            views.extend(page.items)
            if page.next_cursor is None:
                return views
            cursor = page.next_cursor

    views = run_with_container(work)
    if as_json:
        print_json({"secrets": [SecretOut.of(view) for view in views]})
        return
    print_table(
        ["NAME", "TYPE", "VALUE", "VERSION", "STATUS", "UPDATED"],
        (
            [v.secret.name, v.secret.type, v.value, v.version.version, v.status, v.secret.updated_at]
            for v in views
        ),
        empty="no secrets",
    )


@app.command()
def delete(
    tenant: TenantOption,
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
) -> None:
    """Delete a secret with every version and ciphertext (the access log stays). Asks first unless --yes;
    without a terminal to ask on, --yes is required."""
    require_confirmation(yes, "delete", f"secret {name!r}")

    async def work(container: Container) -> None:
        principal = await tenant_principal(container, tenant)
        current = await container.secrets.get(principal, name)
        if not yes:
            versions = current.secret.current_version
            typer.confirm(f"Delete secret {name!r} and its {versions} version(s)?", abort=True, err=True)
        await container.secrets.delete(principal, name)

    run_with_container(work)
    say(f"deleted secret {name}")


def _print_secret(view: SecretView) -> None:
    secret = view.secret
    print_fields(
        [
            ("name", secret.name),
            ("type", secret.type),
            ("value", view.value if view.revealed else f"{view.value} (masked)"),
            ("version", f"{view.version.version} of {secret.current_version}"),
            ("status", view.status),
            ("description", secret.description),
            ("expires", secret.expires_at),
            ("rotation due", secret.rotation_due_at),
            ("created", secret.created_at),
            ("updated", secret.updated_at),
            ("id", secret.id),
        ]
    )
