"""BuildKit's frontend/dockerfile/dockerfile_heredoc_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root


def assert_files(out: Path, contents: dict[str, str]) -> None:
    for name, content in contents.items():
        assert (out / name).read_text() == content, name


# dockerfile_heredoc_test.go: testCopyHeredoc
def test_copy_heredoc(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
RUN adduser -D user
WORKDIR /dest
COPY <<EOF single
single file
EOF
COPY <<EOF <<EOF2 double/
first file
EOF
second file
EOF2
RUN mkdir -p /permfiles
COPY --chmod=777 <<EOF /permfiles/all
dummy content
EOF
COPY --chmod=0644 <<EOF /permfiles/rw
dummy content
EOF
COPY --chown=user:user <<EOF /permfiles/owned
dummy content
EOF
RUN stat -c "%04a" /permfiles/all >> perms && \\
\tstat -c "%04a" /permfiles/rw >> perms && \\
\tstat -c "%U:%G" /permfiles/owned >> perms
FROM scratch
COPY --from=build /dest /
"""
    assert_files(
        sandbox.export(sandbox.context(dockerfile)),
        {
            "single": "single file\n",
            "double/EOF": "first file\n",
            "double/EOF2": "second file\n",
            "perms": "0777\n0644\nuser:user\n",
        },
    )


# dockerfile_heredoc_test.go: testCopyHeredocSpecialSymbols
def test_copy_heredoc_special_symbols(sandbox: Sandbox) -> None:
    dockerfile = """
FROM scratch
COPY <<EOF quotefile
"quotes in file"
EOF
COPY <<EOF slashfile1
\\
EOF
COPY <<EOF slashfile2
\\\\
EOF
COPY <<EOF slashfile3
\\$
EOF
COPY <<"EOF" rawslashfile1
\\
EOF
COPY <<"EOF" rawslashfile2
\\\\
EOF
COPY <<"EOF" rawslashfile3
\\$
EOF
"""
    assert_files(
        sandbox.export(sandbox.context(dockerfile)),
        {
            "quotefile": '"quotes in file"\n',
            "slashfile1": "\n",
            "slashfile2": "\\\n",
            "slashfile3": "$\n",
            "rawslashfile1": "\\\n",
            "rawslashfile2": "\\\\\n",
            "rawslashfile3": "\\$\n",
        },
    )


# dockerfile_heredoc_test.go: testRunBasicHeredoc
def test_run_basic_heredoc(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
RUN <<EOF
echo "i am" >> /dest
whoami >> /dest
EOF
FROM scratch
COPY --from=build /dest /dest
"""
    assert (sandbox.export(sandbox.context(dockerfile)) / "dest").read_text() == "i am\nroot\n"


# dockerfile_heredoc_test.go: testRunFakeHeredoc
def test_run_fake_heredoc(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
SHELL ["/bin/awk"]
RUN <<EOF
BEGIN {
\tprint "foo" > "/dest"
}
EOF
FROM scratch
COPY --from=build /dest /dest
"""
    assert (sandbox.export(sandbox.context(dockerfile)) / "dest").read_text() == "foo\n"


# dockerfile_heredoc_test.go: testRunShebangHeredoc
def test_run_shebang_heredoc(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
WORKDIR /dest
RUN <<EOF
#!/bin/awk -f
BEGIN {
\tprint "hello" >> "./out1"
\tprint "world" >> "./out1"
}
EOF
RUN <<-EOF
\t#!/bin/awk -f
\tBEGIN {
\t\tprint "hello" >> "./out2"
\t\tprint "world" >> "./out2"
\t}
EOF
FROM scratch
COPY --from=build /dest /
"""
    assert_files(
        sandbox.export(sandbox.context(dockerfile)), {"out1": "hello\nworld\n", "out2": "hello\nworld\n"}
    )


# dockerfile_heredoc_test.go: testRunComplexHeredoc
def test_run_complex_heredoc(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
WORKDIR /dest
RUN cat <<EOF1 | tr '[:upper:]' '[:lower:]' > ./out1; \\
\tcat <<EOF2 | tr '[:lower:]' '[:upper:]' > ./out2
hello WORLD
EOF1
HELLO world
EOF2
RUN <<EOF 3<<IN1 4<<IN2 awk -f -
BEGIN {
\twhile ((getline line < "/proc/self/fd/3") > 0)
\t\tprint tolower(line) > "./fd3"
\twhile ((getline line < "/proc/self/fd/4") > 0)
\t\tprint toupper(line) > "./fd4"
}
EOF
hello WORLD
IN1
HELLO world
IN2
FROM scratch
COPY --from=build /dest /
"""
    assert_files(
        sandbox.export(sandbox.context(dockerfile)),
        {"out1": "hello world\n", "out2": "HELLO WORLD\n", "fd3": "hello world\n", "fd4": "HELLO WORLD\n"},
    )


# dockerfile_heredoc_test.go: testHeredocIndent
def test_heredoc_indent(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox AS build
COPY <<EOF /dest/foo-copy
\tfoo
EOF
COPY <<-EOF /dest/bar-copy
\tbar
EOF
RUN <<EOF
echo "
\tfoo" > /dest/foo-run
EOF
RUN <<-EOF
echo "
\tbar" > /dest/bar-run
EOF
RUN <<EOF
#!/bin/sh
echo "
\tfoo" > /dest/foo2-run
EOF
RUN <<-EOF
#!/bin/sh
echo "
\tbar" > /dest/bar2-run
EOF
RUN <<EOF sh > /dest/foo3-run
echo "
\tfoo"
EOF
RUN <<-EOF sh > /dest/bar3-run
echo "
\tbar"
EOF
FROM scratch
COPY --from=build /dest /
"""
    assert_files(
        sandbox.export(sandbox.context(dockerfile)),
        {
            "foo-copy": "\tfoo\n",
            "foo-run": "\n\tfoo\n",
            "foo2-run": "\n\tfoo\n",
            "foo3-run": "\n\tfoo\n",
            "bar-copy": "bar\n",
            "bar-run": "\nbar\n",
            "bar2-run": "\nbar\n",
            "bar3-run": "\nbar\n",
        },
    )


# dockerfile_heredoc_test.go: testHeredocVarSubstitution
def test_heredoc_var_substitution(sandbox: Sandbox) -> None:
    dockerfile = """
FROM busybox as build
ARG name=world
COPY <<EOF /dest/c1
Hello ${name}!
EOF
COPY <<'EOF' /dest/c2
Hello ${name}!
EOF
COPY <<"EOF" /dest/c3
Hello ${name}!
EOF
COPY <<EOF /dest/q1
Hello '${name}'!
EOF
COPY <<EOF /dest/q2
Hello "${name}"!
EOF
COPY <<'EOF' /dest/qsingle1
Hello '${name}'!
EOF
COPY <<'EOF' /dest/qsingle2
Hello "${name}"!
EOF
COPY <<"EOF" /dest/qdouble1
Hello '${name}'!
EOF
COPY <<"EOF" /dest/qdouble2
Hello "${name}"!
EOF
RUN <<EOF
greeting="Hello"
echo "${greeting} ${name}!" > /dest/r1
EOF
RUN <<EOF
name="new world"
echo "Hello ${name}!" > /dest/r2
EOF
FROM scratch
COPY --from=build /dest /
"""
    assert_files(
        sandbox.export(sandbox.context(dockerfile)),
        {
            "c1": "Hello world!\n",
            "c2": "Hello ${name}!\n",
            "c3": "Hello ${name}!\n",
            "q1": "Hello 'world'!\n",
            "q2": 'Hello "world"!\n',
            "qsingle1": "Hello '${name}'!\n",
            "qsingle2": 'Hello "${name}"!\n',
            "qdouble1": "Hello '${name}'!\n",
            "qdouble2": 'Hello "${name}"!\n',
            "r1": "Hello world!\n",
            "r2": "Hello new world!\n",
        },
    )


# dockerfile_heredoc_test.go: testOnBuildHeredoc (the base image goes to the store, not a registry)
def test_on_build_heredoc(sandbox: Sandbox) -> None:
    base = sandbox.image(
        sandbox.context('\nFROM busybox\nONBUILD RUN <<EOF\necho "hello world" >> /dest\nEOF\n')
    )
    dockerfile = f"\n\tFROM {base} AS base\n\tFROM scratch\n\tCOPY --from=base /dest /dest\n\t"
    assert (sandbox.export(sandbox.context(dockerfile)) / "dest").read_text() == "hello world\n"
