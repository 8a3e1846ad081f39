"""services/gateway/auth.py: who a token names, from the token itself (the dashboard) or from gRPC metadata."""
import pytest

from lenet_services.errors import Unauthenticated
from lenet_services.gateway.auth import Auth


def test_an_open_gateway_knows_everyone_as_nobody():
    auth = Auth()
    assert not auth.secured
    assert auth.user_of("") == auth.user_of("anything") == ""
    assert auth.user([]) == auth.user(None) == auth.user([("authorization", "Bearer anything")]) == ""


def test_a_token_names_its_user():
    auth = Auth("alice:alice-secret,bob:bob-secret")
    assert auth.user_of("alice-secret") == "alice" and auth.user_of("bob-secret") == "bob"
    for unknown in ("", "forged", "alice", "Bearer alice-secret"):
        with pytest.raises(Unauthenticated):
            auth.user_of(unknown)


def test_metadata_names_a_user_through_a_bearer_header_only():
    auth = Auth("alice:alice-secret")
    assert auth.user([("authorization", "Bearer alice-secret")]) == "alice"
    assert auth.user([("authorization", "bearer alice-secret")]) == "alice"
    for metadata in ([], None, [("authorization", "alice-secret")], [("authorization", "Basic alice-secret")],
                     [("authorization", "Bearer forged")], [("authorization", "Bearer ")]):
        with pytest.raises(Unauthenticated):
            auth.user(metadata)


def test_a_bad_tokens_entry_is_named_by_its_place_never_shown():
    with pytest.raises(ValueError) as caught:
        Auth("alice:alice-secret,not a user:bob-secret-123")
    assert "entry 2" in str(caught.value)
    assert "bob-secret-123" not in str(caught.value) and "alice-secret" not in str(caught.value)


def test_only_digests_of_the_tokens_are_kept():
    auth = Auth("alice:alice-secret")
    assert "alice-secret" not in repr(vars(auth)) and auth.user_of("alice-secret") == "alice"
