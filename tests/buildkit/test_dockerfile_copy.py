"""BuildKit's frontend/dockerfile/dockerfile_copy_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import stat

import pytest

from buildkit._sandbox import Sandbox, directory, file, symlink, unix_socket

pytestmark = pytest.mark.root


# dockerfile_copy_test.go: testDockerfileCopyFromArgs
def test_dockerfile_copy_from_args(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nCOPY --from=$FOO . .\n")
    output = sandbox.build_fails(context)
    assert (
        "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"
        in output
    )


# dockerfile_copy_test.go: testEmptyDestDir
def test_empty_dest_dir(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
ENV empty=""
COPY testfile $empty
RUN [ "$(cat testfile)" == "contents0" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile, file("testfile", "contents0")))


# dockerfile_copy_test.go: testPreserveDestDirSlash
def test_preserve_dest_dir_slash(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
COPY testfile /sample/
RUN [ "$(cat /sample/testfile)" == "contents0" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile, file("testfile", "contents0")))


# dockerfile_copy_test.go: testCopyLinkDotDestDir
def test_copy_link_dot_dest_dir(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
WORKDIR /var/www
COPY --link testfile .
RUN [ "$(cat testfile)" == "contents0" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile, file("testfile", "contents0")))


# dockerfile_copy_test.go: testCopyLinkEmptyDestDir
def test_copy_link_empty_dest_dir(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
WORKDIR /var/www
ENV empty=""
COPY --link testfile $empty
RUN [ "$(cat testfile)" == "contents0" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile, file("testfile", "contents0")))


def ownership_checks(*expected: tuple[str, str]) -> str:
    return " \\\n && ".join(
        f'e="{owner}"; p="{path}"; a=`stat -c "%u:%g" "$p"`; if [ "$a" != "$e" ]; then '
        'echo "incorrect ownership on $p. expected $e, got $a"; exit 1; fi'
        for path, owner in expected
    )


COPY_CHOWN_EXISTING_DIR = f"""
# Set up files and directories with known ownership
FROM busybox AS source
RUN touch /file && chown 100:200 /file \\
 && mkdir -p /dir/subdir \\
 && touch /dir/subdir/nestedfile \\
 && chown 100:200 /dir \\
 && chown 101:201 /dir/subdir \\
 && chown 102:202 /dir/subdir/nestedfile

FROM busybox AS test_base
RUN mkdir -p /existingdir/existingsubdir \\
 && touch /existingdir/existingfile \\
 && chown 500:600 /existingdir \\
 && chown 501:601 /existingdir/existingsubdir \\
 && chown 501:601 /existingdir/existingfile

# Copy files from the source stage
FROM test_base AS copy_from
COPY --from=source /file .
# Copy to a non-existing target directory creates the target directory (as root), then copies the _contents_ of the source directory into it
COPY --from=source /dir /dir
# Copying to an existing target directory will copy the _contents_ of the source directory into it
COPY --from=source /dir/. /existingdir

RUN {
    ownership_checks(
        ("/file", "100:200"),
        ("/dir", "0:0"),
        ("/dir/subdir", "101:201"),
        ("/dir/subdir/nestedfile", "102:202"),
        ("/existingdir", "500:600"),
        ("/existingdir/existingsubdir", "501:601"),
        ("/existingdir/existingfile", "501:601"),
        ("/existingdir/subdir", "101:201"),
        ("/existingdir/subdir/nestedfile", "102:202"),
    )
}

# Copy files from the source stage and chown them.
FROM test_base AS copy_from_chowned
COPY --from=source --chown=300:400 /file .
COPY --from=source --chown=300:400 /dir /dir
COPY --from=source --chown=300:400 /dir/. /existingdir

RUN {
    ownership_checks(
        ("/file", "300:400"),
        ("/dir", "300:400"),
        ("/dir/subdir", "300:400"),
        ("/dir/subdir/nestedfile", "300:400"),
        ("/existingdir", "500:600"),
        ("/existingdir/existingsubdir", "501:601"),
        ("/existingdir/existingfile", "501:601"),
        ("/existingdir/subdir", "300:400"),
        ("/existingdir/subdir/nestedfile", "300:400"),
    )
}
"""


# dockerfile_copy_test.go: testCopyChownExistingDir
def test_copy_chown_existing_dir(sandbox: Sandbox) -> None:
    context = sandbox.context(
        COPY_CHOWN_EXISTING_DIR, symlink("Dockerfile.web", "Dockerfile"), filename="Dockerfile.web"
    )
    sandbox.build_ok(context)
    sandbox.build_ok(context, "--target", "copy_from")


# dockerfile_copy_test.go: testCopyWildcardCache
def test_copy_wildcard_cache(own_sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS base
COPY foo* files/
RUN cat /dev/urandom | head -c 100 | sha256sum > unique
COPY bar files/
FROM scratch
COPY --from=base unique /
"""
    context = own_sandbox.context(
        dockerfile, file("foo1", "foo1-data"), file("foo2", "foo2-data"), file("bar", "bar-data")
    )
    first = (own_sandbox.export(context) / "unique").read_text()
    (context / "bar").write_text("bar-data-mod")
    assert (own_sandbox.export(context) / "unique").read_text() == first
    (context / "foo2").write_text("foo2-data-mod")
    assert (own_sandbox.export(context) / "unique").read_text() != first


# dockerfile_copy_test.go: testEmptyWildcard
def test_empty_wildcard(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nCOPY foo nomatch* /\n", file("foo", "contents0"))
    assert (sandbox.export(context) / "foo").read_text() == "contents0"


# dockerfile_copy_test.go: testCopyChownCreateDest
def test_copy_chown_create_dest(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
ARG group
ENV owner user01
RUN adduser -D user
RUN adduser -D user01
COPY --chown=user:user . /dest
COPY --chown=${owner}:${group} . /dest01
RUN [ "$(stat -c "%U %G" /dest)" == "user user" ]
RUN [ "$(stat -c "%U %G" /dest01)" == "user01 user" ]
"""
    sandbox.build_ok(sandbox.context(dockerfile), "--build-arg", "group=user")


# dockerfile_copy_test.go: testCopyThroughSymlinkContext
def test_copy_through_symlink_context(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch\nCOPY link/foo .\n",
        symlink("sub", "link"),
        directory("sub", 0o700),
        file("sub/foo", "contents"),
    )
    assert (sandbox.export(context) / "foo").read_text() == "contents"


# dockerfile_copy_test.go: testCopyThroughSymlinkMultiStage
def test_copy_through_symlink_multi_stage(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
RUN mkdir -p /out/sub && ln -s /out/sub /sub && ln -s out/sub /sub2 && echo -n "data" > /sub/foo
FROM scratch
COPY --from=build /sub/foo .
COPY --from=build /sub2/foo bar
\t"""
    assert (sandbox.export(sandbox.context(dockerfile)) / "foo").read_text() == "data"


# dockerfile_copy_test.go: testCopySocket
def test_copy_socket(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nCOPY . /\n", unix_socket("socket.sock"))
    copied = (sandbox.export(context) / "socket.sock").lstat()
    # make sure socket is converted to regular file.
    assert stat.S_ISREG(copied.st_mode)


# dockerfile_copy_test.go: testCopyFollowAllSymlinks (#1197)
def test_copy_follow_all_symlinks(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch\nCOPY foo /\nCOPY foo/sub bar\n",
        file("bar", "bar-contents"),
        directory("foo", 0o700),
        symlink("../bar", "foo/sub"),
    )
    sandbox.build_ok(context)


# dockerfile_copy_test.go: testCopySymlinks
def test_copy_symlinks(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch\nCOPY foo /\nCOPY sub/l* alllinks/\n",
        file("bar", "bar-contents"),
        symlink("bar", "foo"),
        directory("sub", 0o700),
        file("sub/lfile", "lfile-contents"),
        symlink("subfile", "sub/l0"),
        file("sub/subfile", "subfile-contents"),
        symlink("second", "sub/l1"),
        symlink("baz", "sub/second"),
        file("sub/baz", "baz-contents"),
    )
    out = sandbox.export(context)
    assert (out / "foo").read_text() == "bar-contents"
    assert (out / "alllinks/l0").read_text() == "subfile-contents"
    assert (out / "alllinks/lfile").read_text() == "lfile-contents"
    assert (out / "alllinks/l1").read_text() == "baz-contents"


# dockerfile_copy_test.go: testCopyChown
def test_copy_chown(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS base
ENV owner 1000
RUN mkdir -m 0777 /out
COPY --chown=daemon foo /
COPY --chown=1000:nobody bar /baz
ARG group
COPY --chown=${owner}:${group} foo /foobis
RUN stat -c "%U %G" /foo  > /out/fooowner
RUN stat -c "%u %G" /baz/sub  > /out/subowner
RUN stat -c "%u %G" /foobis  > /out/foobisowner
FROM scratch
COPY --from=base /out /
"""
    context = sandbox.context(
        dockerfile, file("foo", "foo-contents"), directory("bar", 0o700), file("bar/sub", b"")
    )
    out = sandbox.export(context, "--build-arg", "group=nobody")
    assert (out / "fooowner").read_text() == "daemon daemon\n"
    assert (out / "subowner").read_text() == "1000 nobody\n"
    assert (out / "foobisowner").read_text() == "1000 nobody\n"


# dockerfile_copy_test.go: testCopyChmod
def test_copy_chmod(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS base

RUN mkdir -m 0777 /out
COPY --chmod=0644 foo /
COPY --chmod=777 bar /baz
COPY --chmod=0 foo /foobis
COPY --chmod=777 foo /parent/foo
COPY --chmod=770 foo /parent/sub/foo

ARG mode
COPY --chmod=${mode} foo /footer

RUN stat -c "%04a" /foo  > /out/fooperm
RUN stat -c "%04a" /baz  > /out/barperm
RUN stat -c "%04a" /foobis  > /out/foobisperm
RUN stat -c "%04a" /parent  > /out/parentperm
RUN stat -c "%04a" /parent/sub  > /out/subparentperm
RUN stat -c "%04a" /footer  > /out/footerperm
FROM scratch
COPY --from=base /out /
"""
    context = sandbox.context(dockerfile, file("foo", "foo-contents"), file("bar", "bar-contents", 0o700))
    out = sandbox.export(context, "--build-arg", "mode=755")
    assert (out / "fooperm").read_text() == "0644\n"
    assert (out / "barperm").read_text() == "0777\n"
    assert (out / "foobisperm").read_text() == "0000\n"
    assert (out / "parentperm").read_text() == "0777\n"
    assert (out / "subparentperm").read_text() == "0770\n"
    assert (out / "footerperm").read_text() == "0755\n"


# dockerfile_copy_test.go: testCopyInvalidChmod
def test_copy_invalid_chmod(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nCOPY --chmod=64a foo /\n", file("foo", "foo-contents"))
    assert "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777" in (
        sandbox.build_fails(context)
    )
    context = sandbox.context("\nFROM scratch\nCOPY --chmod=10000 foo /\n", file("foo", "foo-contents"))
    assert "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777" in (
        sandbox.build_fails(context)
    )


# dockerfile_copy_test.go: testCopyOverrideFiles
def test_copy_override_files(sandbox: Sandbox) -> None:
    dockerfile = """
FROM scratch AS base
COPY sub sub
COPY sub sub
COPY files/foo.go dest/foo.go
COPY files/foo.go dest/foo.go
COPY files dest
"""
    context = sandbox.context(
        dockerfile,
        directory("sub/dir1/dir2", 0o700),
        file("sub/dir1/dir2/foo", "foo-contents"),
        directory("files", 0o700),
        file("files/foo.go", "foo.go-contents"),
    )
    out = sandbox.export(context)
    assert (out / "sub/dir1/dir2/foo").read_text() == "foo-contents"
    assert (out / "dest/foo.go").read_text() == "foo.go-contents"


# dockerfile_copy_test.go: testCopyVarSubstitution
def test_copy_var_substitution(sandbox: Sandbox) -> None:
    context = sandbox.context(
        "\nFROM scratch AS base\nENV FOO bar\nCOPY $FOO baz\n", file("bar", "bar-contents")
    )
    assert (sandbox.export(context) / "baz").read_text() == "bar-contents"


# dockerfile_copy_test.go: testCopyWildcards
def test_copy_wildcards(sandbox: Sandbox) -> None:
    dockerfile = """
FROM scratch AS base
COPY *.go /gofiles/
COPY f*.go foo2.go
COPY sub/* /subdest/
COPY sub/*/dir2/foo /subdest2/
COPY sub/*/dir2/foo /subdest3/bar
COPY . all/
COPY sub/dir1/ subdest4
COPY sub/dir1/. subdest5
COPY sub/dir1 subdest6
"""
    context = sandbox.context(
        dockerfile,
        file("foo.go", "foo-contents"),
        file("bar.go", "bar-contents"),
        directory("sub/dir1/dir2", 0o700),
        file("sub/dir1/dir2/foo", "foo-contents"),
    )
    out = sandbox.export(context)
    assert (out / "gofiles/foo.go").read_text() == "foo-contents"
    assert (out / "gofiles/bar.go").read_text() == "bar-contents"
    assert (out / "foo2.go").read_text() == "foo-contents"
    assert (out / "subdest/dir2/foo").read_text() == "foo-contents"
    assert (out / "subdest2/foo").read_text() == "foo-contents"
    assert (out / "subdest3/bar").read_text() == "foo-contents"
    assert (out / "all/foo.go").read_text() == "foo-contents"
    assert (out / "subdest4/dir2/foo").read_text() == "foo-contents"
    assert (out / "subdest5/dir2/foo").read_text() == "foo-contents"
    assert (out / "subdest6/dir2/foo").read_text() == "foo-contents"


# dockerfile_copy_test.go: testCopyRelative
def test_copy_relative(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox
WORKDIR /test1
WORKDIR test2
RUN sh -c "[ "$PWD" = '/test1/test2' ]"
COPY foo ./
RUN sh -c "[ $(cat /test1/test2/foo) = 'hello' ]"
ADD foo ./bar/baz
RUN sh -c "[ $(cat /test1/test2/bar/baz) = 'hello' ]"
COPY foo ./bar/baz2
RUN sh -c "[ $(cat /test1/test2/bar/baz2) = 'hello' ]"
WORKDIR ..
COPY foo ./
RUN sh -c "[ $(cat /test1/foo) = 'hello' ]"
COPY foo /test3/
RUN sh -c "[ $(cat /test3/foo) = 'hello' ]"
WORKDIR /test4
COPY . .
RUN sh -c "[ $(cat /test4/foo) = 'hello' ]"
WORKDIR /test5/test6
COPY foo ../
RUN sh -c "[ $(cat /test5/foo) = 'hello' ]"
"""
    sandbox.build_ok(sandbox.context(dockerfile, file("foo", "hello")))


# dockerfile_copy_test.go: testCopyUnicodePath
def test_copy_unicode_path(sandbox: Sandbox) -> None:
    dockerfile = """
FROM alpine
COPY test-äöü.txt /
COPY test-%C3%A4%C3%B6%C3%BC.txt /
COPY test+aou.txt /
"""
    context = sandbox.context(
        dockerfile,
        file("test-äöü.txt", "foo", 0o644),
        file("test-%C3%A4%C3%B6%C3%BC.txt", "bar", 0o644),
        file("test+aou.txt", "baz", 0o644),
    )
    out = sandbox.export(context)
    assert (out / "test-äöü.txt").read_text() == "foo"
    assert (out / "test-%C3%A4%C3%B6%C3%BC.txt").read_text() == "bar"
    assert (out / "test+aou.txt").read_text() == "baz"


NON_OCTAL_CASES = (
    ("file", "f1", "go-w", False),
    ("file", "f2", "u=rw,g=r,o=r", False),
    ("file", "f3", "a+X", False),
    ("dir", "d1", "go-w", True),
    ("dir", "d2", "u+rw,g+r,o-x,o+w", True),
    ("dir", "d3", "a+X", True),
)


def non_octal_dockerfile() -> str:
    expected, copies, verifies = [], [], []
    for source, destination, mode, is_dir in NON_OCTAL_CASES:
        if is_dir:
            # create nested input dir because COPY copies directory contents
            expected.append(
                f"RUN mkdir -p /input/dirs/{destination} && cp -a /input/{source} /input/dirs/{destination}/{destination}"
            )
            expected.append(
                f"RUN cp -a /input/dirs/{destination}/. /expected/ && chmod {mode} /expected/{destination}"
            )
            copies.append(f"COPY --from=base --chmod={mode} /input/dirs/{destination} /")
        else:
            expected.append(
                f"RUN cp -a /input/{source} /expected/{destination} && chmod {mode} /expected/{destination}"
            )
            copies.append(f"COPY --from=base --chmod={mode} /input/{source} /{destination}")
        verifies.append(
            f'RUN [ "$(stat -c %A /actual/{destination})" = "$(stat -c %A /expected/{destination})" ]'
        )
    return f"""
FROM alpine as base
RUN <<eot
\tset -ex
\tmkdir /input
\ttouch /input/file
\tchmod 666 /input/file
\tmkdir /input/dir
\tchmod 124 /input/dir
\tmkdir /expected
eot
{chr(10).join(expected)}

FROM scratch as result
{chr(10).join(copies)}

FROM base
COPY --from=result / /actual/
{chr(10).join(verifies)}

"""


# dockerfile_copy_test.go: testChmodNonOctal
def test_chmod_non_octal(sandbox: Sandbox) -> None:
    sandbox.build_ok(sandbox.context(non_octal_dockerfile()))


# dockerfile_copy_test.go: testLocalCustomSessionID
def test_local_custom_session_id(sandbox: Sandbox) -> None:
    dockerfile = """
FROM scratch AS base
FROM scratch
COPY out /out1
COPY --from=base /another /out2
"""
    dockerfile_dir = sandbox.context(dockerfile)
    context = sandbox.context(None, file("out", "contents1"))
    base = sandbox.context(None, file("another", "contents2"))
    out = sandbox.export(context, "--build-context", f"base={base}", dockerfile=dockerfile_dir / "Dockerfile")
    assert (out / "out1").read_text() == "contents1"
    assert (out / "out2").read_text() == "contents2"
