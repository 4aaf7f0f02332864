"""slipway.worker: does the work on this machine (see DESIGN.md). Import from the modules:

- rootpath: Root (every host-side path into a root: openat2 RESOLVE_IN_ROOT, fd-relative, capped reads)
- snapshots: overlay_mount, unmount (overlayfs views of snapshot chains)
- bind_sources: bind_source (what RUN --mount=type=bind shows: .dockerignore applied, held open by fd)
- executor: Executor, ContainerSpec, ProcessSpec, BindMount (runs containers: the caller of runc/crun)
- runtime: Runtime, find_runtime (which OCI runtime: SLIPWAY_RUNTIME, else crun if its probe starts, else runc)
- fileops: copy_files, make_directory, lookup_user (COPY/ADD/WORKDIR inside a root), expand_sources (their globs)
- users: resolve_user, resolve_owner (/etc/passwd and /etc/group of a root, as Docker reads them)
- sources: fetch_url (ADD of a URL into a temp tree); git: check_out (a git repository, for ADD and contexts)

It never parses Dockerfile text and never imports slipway.frontend.
"""
