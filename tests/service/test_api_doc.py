"""docs/api.md is generated from the app's OpenAPI schema and must be current."""

from service import api_doc


def test_api_doc_is_current() -> None:
    assert api_doc.main() == 0, "run: python -m service.api_doc --write"
