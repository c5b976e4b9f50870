"""Event contracts against their stored examples, which are what other modules code against."""

import json
import re
from collections import defaultdict
from importlib.resources import files
from typing import Any

import pytest
from pydantic import ValidationError

from voice_shared.contracts import Envelope, Event, all_contracts

EXAMPLES = files("voice_shared.contracts") / "examples"
CONTRACTS = all_contracts()
# A topic routing key: dot-separated lowercase words, never the wildcards '*' or '#'.
ROUTING_KEY = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")


def example_name(contract: type[Event]) -> str:
    return f"{contract.type}.v{contract.version}.json"


def load_example(contract: type[Event]) -> dict[str, Any]:
    return json.loads((EXAMPLES / example_name(contract)).read_text())  # type: ignore[no-any-return]


def test_the_registry_holds_every_contract() -> None:
    assert len(CONTRACTS) >= 17


@pytest.mark.parametrize("contract", CONTRACTS, ids=example_name)
def test_every_contract_has_an_example(contract: type[Event]) -> None:
    assert (EXAMPLES / example_name(contract)).is_file(), f"add examples/{example_name(contract)}"


def test_every_example_belongs_to_a_contract() -> None:
    expected = {example_name(c) for c in CONTRACTS}
    stored = {p.name for p in EXAMPLES.iterdir() if p.name.endswith(".json")}
    assert stored - expected == set(), "examples without a registered contract"


@pytest.mark.parametrize("contract", CONTRACTS, ids=example_name)
def test_example_parses_as_envelope_and_contract(contract: type[Event]) -> None:
    env = Envelope.model_validate(load_example(contract))

    event = env.parse()

    assert (env.type, env.version) == (contract.type, contract.version)
    assert type(event) is contract
    assert set(env.payload) <= set(contract.model_fields), "the example has unknown fields"
    if env.session_id is not None and "session_id" in contract.model_fields:
        assert event.model_dump()["session_id"] == env.session_id


@pytest.mark.parametrize("contract", CONTRACTS, ids=example_name)
def test_contracts_are_frozen(contract: type[Event]) -> None:
    event = Envelope.model_validate(load_example(contract)).parse()
    field = next(iter(contract.model_fields))

    with pytest.raises(ValidationError, match="frozen"):
        setattr(event, field, getattr(event, field))


@pytest.mark.parametrize("contract", CONTRACTS, ids=example_name)
def test_unknown_payload_fields_are_ignored(contract: type[Event]) -> None:
    """A producer on a newer minor version may add optional fields; older consumers still parse."""
    body = load_example(contract)
    body["payload"]["added_in_a_later_release"] = {"any": "value"}
    body["added_to_the_envelope_later"] = 1

    event = Envelope.model_validate(body).parse()

    assert "added_in_a_later_release" not in event.model_dump()


def test_unknown_type_or_version_does_not_parse() -> None:
    body = load_example(CONTRACTS[0])
    env = Envelope.model_validate({**body, "version": 99})

    with pytest.raises(ValueError, match="unknown event contract"):
        env.parse()


def test_routing_keys_are_unique_and_versions_contiguous() -> None:
    """One class per routing key and version; a type's versions run 1..n."""
    versions: dict[str, list[int]] = defaultdict(list)
    for contract in CONTRACTS:
        assert ROUTING_KEY.match(contract.type), contract.type
        versions[contract.type].append(contract.version)

    for type_, found in versions.items():
        assert sorted(found) == list(range(1, len(found) + 1)), type_
    assert len({c.__name__ for c in CONTRACTS}) == len(CONTRACTS)
