"""``switchyard connectors``: the catalog (built in, plus a tenant's own definitions), the definition
JSON Schema, offline validation of definition files, and a tenant's added or overriding definitions; and
connector packages (``packages.py``): create, package, and upload, download, version, roll back, delete and
migrate them on a Switchyard server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from switchyard.api.catalog_schemas import ConnectorDetail, ConnectorList, ConnectorSummary
from switchyard.cli import migrate, package_files, packages
from switchyard.cli.output import JsonOption, TenantOption, print_fields, print_json, print_table, say
from switchyard.cli.profiles import ApiUrlOption, ProfileOption, TokenOption
from switchyard.cli.runtime import run_with_container, tenant_principal
from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.loader import load
from switchyard.core.manifest.schema import AuthMethod, Category, Definition, json_schema
from switchyard.services.catalog import BUILTIN, CatalogEntry, CatalogFilter, connector_not_found
from switchyard.services.container import Container

app = typer.Typer(
    name="connectors",
    help="The connector catalog: list and show definitions, print their JSON Schema, validate definition "
    "files, and add or override a tenant's own definitions. Connector packages: create, package, and "
    "upload, download, version, roll back, delete or migrate them on a Switchyard server.",
    no_args_is_help=True,
)

CatalogTenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        "-t",
        metavar="TENANT",
        help="The tenant's name or id: its catalog, with its own definitions. Without it: the built-in one.",
    ),
]
ConnectorArgument = Annotated[
    str, typer.Argument(metavar="ID", help="The connector id, e.g. github.", show_default=False)
]
DefinitionFile = Annotated[
    Path,
    typer.Argument(
        metavar="FILE", exists=True, dir_okay=False, readable=True, help="A definition, YAML or JSON."
    ),
]


@app.command("list")
def list_connectors(
    tenant: CatalogTenantOption = None,
    category: Annotated[Category | None, typer.Option(help="Only connectors in this category.")] = None,
    q: Annotated[
        str | None,
        typer.Option(
            "--q",
            metavar="TEXT",
            help="Only connectors whose name, description or capabilities contain this text.",
        ),
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(metavar="TYPE", help="Only connectors offering this auth method: oauth2, api_key, ..."),
    ] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """List connectors: the built-in catalog, or with --tenant that tenant's catalog (its own definitions
    added or overriding built-in ones). With --api-url, --token or --profile: the connector packages
    uploaded to that Switchyard server instead (see `switchyard login`)."""
    if api_url is not None or token is not None or profile is not None:
        if tenant is not None or category is not None or q is not None or auth is not None:
            raise InvalidInput(
                "--tenant, --category, --q and --auth filter the local catalog, not a server's packages",
                code="cli.conflicting_options",
                remediation="Leave them out when listing a server's packages.",
            )
        packages.list_remote(api_url, token, profile, as_json)
        return
    where = CatalogFilter(category, q, auth)

    async def work(container: Container) -> list[CatalogEntry]:
        if tenant is None:
            builtin = container.catalog.builtin
            return [
                CatalogEntry(builtin[cid], BUILTIN) for cid in sorted(builtin) if where.matches(builtin[cid])
            ]
        principal = await tenant_principal(container, tenant)
        return await container.catalog.list(principal.tenant_id, where)

    entries = run_with_container(work, start=tenant is not None)
    if as_json:
        print_json(ConnectorList(connectors=[ConnectorSummary.of(entry) for entry in entries]))
        return
    print_table(
        ["ID", "NAME", "CATEGORIES", "AUTH", "VERSION", "SOURCE"],
        (
            [
                e.definition.name,
                e.definition.display_name,
                e.definition.categories,
                e.definition.auth_types(),
                e.definition.version,
                e.source,
            ]
            for e in entries
        ),
        empty="no connectors match",
    )


@app.command()
def show(
    connector_id: ConnectorArgument, tenant: CatalogTenantOption = None, as_json: JsonOption = False
) -> None:
    """Show one connector: what it is, its auth methods and their URLs. --json prints the whole definition
    as authors write it."""

    async def work(container: Container) -> CatalogEntry:
        if tenant is None:
            if connector_id not in container.catalog.builtin:
                raise connector_not_found(connector_id)
            return CatalogEntry(container.catalog.builtin[connector_id], BUILTIN)
        principal = await tenant_principal(container, tenant)
        return await container.catalog.get(principal.tenant_id, connector_id)

    entry = run_with_container(work, start=tenant is not None)
    definition = entry.definition
    if as_json:
        print_json(definition.model_dump(mode="json", by_alias=True, exclude_none=True))
        return
    print_fields(_summary(entry))
    for method in definition.authentication_methods:
        say(f"auth method {method.type}:")
        print_fields(_method_fields(method))


@app.command()
def schema() -> None:
    """Print the JSON Schema (2020-12) a connector definition must follow, as JSON."""
    print_json(json_schema())


@app.command()
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE", exists=True, dir_okay=False, readable=True, help="Definitions, YAML or JSON."
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Check definition files against the schema without a database. Prints "ok NAME VERSION" per valid
    file and every problem as FILE:LINE: path: message; exits 1 when any file is invalid."""
    results = [(path, _check(path)) for path in files]
    if as_json:
        print_json(
            [
                {"file": str(path), "valid": isinstance(found, Definition), "problems": _problems(found)}
                for path, found in results
            ]
        )
    else:
        for path, found in results:
            if isinstance(found, Definition):
                say(f"ok {found.name} {found.version} ({path})")
            for problem in _problems(found):
                where = f"{path}:{problem['line']}" if problem["line"] else str(path)
                say(f"{where}: {problem['path'] or '<root>'}: {problem['message']}")
    if not all(isinstance(found, Definition) for _, found in results):
        raise typer.Exit(1)


@app.command()
def put(tenant: TenantOption, file: DefinitionFile, as_json: JsonOption = False) -> None:
    """Add a definition to a tenant's catalog, or override the built-in one with the same id (the file's
    name field). The file is checked before anything is stored; put it again to replace it."""
    source = _read(file)
    connector_id = load(source, str(file)).name

    async def work(container: Container) -> CatalogEntry:
        principal = await tenant_principal(container, tenant)
        return await container.catalog.put(principal, connector_id, source)

    entry = run_with_container(work)
    if as_json:
        print_json(ConnectorDetail.of(entry))
        return
    overrides = " (overrides the built-in definition)" if entry.overrides_builtin else ""
    say(f"saved {connector_id} {entry.definition.version}{overrides}")


@app.command()
def remove(tenant: TenantOption, connector_id: ConnectorArgument) -> None:
    """Remove a tenant's own definition; a built-in definition with the same id applies again."""

    async def work(container: Container) -> bool:
        principal = await tenant_principal(container, tenant)
        await container.catalog.delete(principal, connector_id)
        return connector_id in container.catalog.builtin

    builtin_again = run_with_container(work)
    say(
        f"removed the tenant definition of {connector_id}"
        + ("; the built-in one applies" if builtin_again else "")
    )


app.command()(package_files.create)
app.command()(package_files.package)
app.command()(packages.upload)
app.command()(packages.download)
app.command("download-all")(packages.download_all)
app.command()(packages.versions)
app.command()(packages.rollback)
app.command()(packages.delete)
app.command()(migrate.migrate)


def _summary(entry: CatalogEntry) -> list[tuple[str, object]]:
    d = entry.definition
    return [
        ("id", d.name),
        ("name", d.display_name),
        ("version", d.version),
        (
            "source",
            f"{entry.source} (overrides the built-in one)" if entry.overrides_builtin else entry.source,
        ),
        ("description", d.description or None),
        ("categories", d.categories),
        ("service type", d.service_type),
        ("capabilities", d.capabilities),
        ("protocol", d.protocol),
        ("docs", d.docs_url),
        ("logo", d.icon),
        ("proxy base url", d.proxy.base_url if d.proxy else None),
        ("connection config", list(d.connection_config)),
        ("verification", f"{d.verification.method} {d.verification.path}" if d.verification else None),
    ]


def _method_fields(method: AuthMethod) -> list[tuple[str, object]]:
    fields: list[tuple[str, object]] = [
        (f"  {name.removesuffix('_url').replace('_', ' ')} url", value)
        for name, value in method
        if name.endswith("_url") and value
    ]
    scopes = getattr(method, "default_scopes", None)
    if scopes:
        fields.append(("  default scopes", " ".join(scopes)))
    pkce = getattr(method, "pkce", None)
    if pkce is not None:
        fields.append(("  pkce", pkce))
    credentials = getattr(method, "credentials", None)
    if credentials:
        fields.append(("  credentials", list(credentials)))
    inject = getattr(method, "inject", None)
    if inject is not None:
        fields.append(("  injected as", f"{inject.in_} {inject.name or ''}".strip()))
    return fields


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text", code="connector.invalid_definition") from None


def _check(path: Path) -> Definition | InvalidInput:
    """The definition in ``path``, or the error that lists its problems."""
    try:
        return load(_read(path), str(path))
    except InvalidInput as exc:
        return exc


def _problems(found: Definition | InvalidInput) -> list[dict[str, Any]]:
    if isinstance(found, Definition):
        return []
    problems: list[dict[str, Any]] = found.extra.get("problems") or [
        {"path": "", "line": None, "message": found.detail}
    ]
    return problems
