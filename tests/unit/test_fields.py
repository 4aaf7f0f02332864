"""KEY=VALUE flag values: one CSV reader for --output, --cache-*, --call and RUN --mount."""

from __future__ import annotations

import pytest

from slipway._fields import BadFields, key_value, split_fields
from slipway.errors import UsageError
from slipway.export.specs import parse_cache_from, parse_cache_to, parse_output


def test_quotes_group_commas_and_a_doubled_quote_is_one() -> None:
    assert split_fields('type=image,"name=a:1,b:2"') == ["type=image", "name=a:1,b:2"]
    assert split_fields('"say ""hi""",x') == ['say "hi"', "x"]
    assert split_fields("") == []


@pytest.mark.parametrize("text", ['"open', '"name=a"b'])
def test_a_quote_left_open_or_followed_by_text_is_refused(text: str) -> None:
    with pytest.raises(BadFields):
        split_fields(text)


def test_keys_are_trimmed_and_lower_cased_values_kept() -> None:
    assert key_value(" Type=Local ") == ("type", "Local ")
    assert key_value("a=b=c") == ("a", "b=c")
    assert key_value("bare") is None


def test_outputs_and_caches_read_quoted_names_and_refuse_bad_quotes() -> None:
    assert parse_output('type=image,"name=a:1,b:2"').names == ("a:1", "b:2")
    assert parse_cache_to("type=local,dest=/tmp/c,mode=max").mode == "max"
    for parse, flag in (
        (parse_output, "--output"),
        (parse_cache_to, "--cache-to"),
        (parse_cache_from, "--cache-from"),
    ):
        with pytest.raises(UsageError, match=f"^{flag} "):
            parse('type=local,"dest=/tmp')
