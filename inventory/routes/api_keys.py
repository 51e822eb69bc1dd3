"""API keys for systems (admin only): create (the secret is shown once), list, revoke."""

from fastapi import Request, Response
from sqlalchemy import select

from inventory import api_keys
from inventory.auth import AdminDep
from inventory.db import SessionDep
from inventory.errors import error_doc
from inventory.models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyRead
from inventory.pagination import PageDep, paginate
from inventory.routing import ApiRouter, IdPath

router = ApiRouter("/api-keys", tag="api-keys")

NO_KEY = error_doc(404, "No such API key.", "API key 42 not found")


@router.post("", status_code=201, summary="Create an API key")
def create_api_key(
    body: ApiKeyCreate, session: SessionDep, admin: AdminDep, request: Request, response: Response
) -> ApiKeyCreated:
    """A key for a system, with a role. This answer is the only place the `key` appears: it is
    stored as a hash. Send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`. The key
    acts for you (the admin who makes it) with its own role, never more than yours."""
    key, secret = api_keys.create_key(session, body.name, body.role, admin)
    response.headers["Location"] = request.app.url_path_for("get_api_key", key_id=key.id)
    read = ApiKeyRead.model_validate(key, from_attributes=True)
    return ApiKeyCreated(**read.model_dump(), key=secret)


@router.get("", summary="List API keys")
def list_api_keys(session: SessionDep, _: AdminDep, page: PageDep) -> ApiKeyPage:
    """Every key, revoked ones too (with `revoked_at`), oldest first; never a secret."""
    return paginate(session, select(ApiKey), page, ApiKeyPage, ApiKey.id)


@router.get("/{key_id}", summary="Get an API key", responses=NO_KEY)
def get_api_key(key_id: IdPath, session: SessionDep, _: AdminDep) -> ApiKeyRead:
    """One key, without its secret."""
    return ApiKeyRead.model_validate(api_keys.get_key(session, key_id), from_attributes=True)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key", responses=NO_KEY)
def revoke_api_key(key_id: IdPath, session: SessionDep, admin: AdminDep) -> Response:
    """The key stops working at once, on every worker (401). It stays in the list with
    `revoked_at`; revoking it again changes nothing."""
    api_keys.revoke_key(session, key_id, admin.id)
    return Response(status_code=204)
