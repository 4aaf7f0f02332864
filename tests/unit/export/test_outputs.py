"""--output parsing: BuildKit's CSV syntax and short forms, and errors that name the flag."""

from __future__ import annotations

import pytest

from slipway.errors import UsageError
from slipway.export.outputs import OutputSpec, parse_output
from slipway.export.specs import build_outputs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type=image", OutputSpec()),
        ("type=image,push=true", OutputSpec(push=True)),
        ("type=registry", OutputSpec(type="registry", push=True)),
        (
            "type=registry,name=reg.example/app:v1",
            OutputSpec(type="registry", names=("reg.example/app:v1",), push=True),
        ),
        ('type=image,"name=a:v1,b:v2"', OutputSpec(names=("a:v1", "b:v2"))),
        ("type=docker,dest=out.tar", OutputSpec(type="docker", dest="out.tar")),
        ("type=oci,dest=-", OutputSpec(type="oci", dest="-")),
        ("type=local,dest=out", OutputSpec(type="local", dest="out")),
        ("TYPE=tar, dest=fs.tar", OutputSpec(type="tar", dest="fs.tar")),
        ("out/dir", OutputSpec(type="local", dest="out/dir")),
        ("-", OutputSpec(type="tar", dest="-")),
        (
            "type=oci,dest=o.tar,rewrite-timestamp=true,source-date-epoch=5",
            OutputSpec(type="oci", dest="o.tar", source_date_epoch="5", rewrite_timestamp=True),
        ),
        ("type=image,source-date-epoch=", OutputSpec(source_date_epoch="")),
        ("type=oci,dest=layout,tar=false", OutputSpec(type="oci", dest="layout", tar=False)),
    ],
)
def test_parse_output(text: str, expected: OutputSpec) -> None:
    assert parse_output(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type=bogus", "--output 'type=bogus': unknown type 'bogus'; expected one of image, registry"),
        ("dest=out", "no type="),
        ("type=local", "type=local needs dest=DIR"),
        ("type=docker", "type=docker needs dest=FILE (or dest=- for stdout)"),
        ("type=local,dest=-", "for stdout use type=tar,dest=-"),
        ("type=tar,dest=x,name=a", "type=tar has no attribute 'name'; it takes dest"),
        ("type=local,dest=x,rewrite-timestamp=true", "type=local has no attribute 'rewrite-timestamp'"),
        ("type=oci,dest=-,tar=false", "tar=false writes a directory; name it with dest=DIR"),
        ("type=docker,dest=x,tar=false", "type=docker has no attribute 'tar'"),
        ("type=oci,dest=x,source-date-epoch=soon", "source-date-epoch='soon': not a whole number of seconds"),
        ("type=image,push=perhaps", "'perhaps' is not true or false"),
        ("type=image,name=UPPER:case", "name 'UPPER:case'"),
        ("type=image,push", "'push' is not KEY=VALUE"),
        ("", "--output needs a value"),
    ],
)
def test_bad_outputs_are_usage_errors_naming_the_flag(text: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_output(text)
    assert message in str(raised.value)
    assert str(raised.value).startswith("--output")


def test_push_and_load_as_buildx_reads_them_with_the_outputs() -> None:
    local = OutputSpec(type="local", dest="out")
    assert build_outputs([]) == (OutputSpec(),)  # none: the store
    assert build_outputs([], push=True) == (OutputSpec(push=True),)
    # --push sets push on each image output, or adds one when there is none.
    assert build_outputs([OutputSpec(), local], push=True) == (OutputSpec(push=True), local)
    assert build_outputs([local], push=True) == (local, OutputSpec(push=True))
    # --load: the store, added to an output that does not keep the image there.
    assert build_outputs([local], load=True) == (local, OutputSpec())
    assert build_outputs([OutputSpec(push=True)], load=True) == (OutputSpec(push=True),)
    tar_out = OutputSpec(type="tar", dest="-")
    with pytest.raises(UsageError, match="only one output can write to stdout"):
        build_outputs([tar_out, OutputSpec(type="oci", dest="-")])


def test_what_each_type_makes() -> None:
    assert [
        spec.makes_image for spec in (OutputSpec(), parse_output("type=oci,dest=x"), parse_output("out"))
    ] == [True, True, False]
    assert [spec.tags_store for spec in (OutputSpec(), parse_output("type=docker,dest=x"))] == [True, False]
