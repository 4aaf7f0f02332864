"""slipway.worker: does the work on this machine (see DESIGN.md). Import from the modules:

- snapshots: overlay_mount, unmount (overlayfs views of snapshot chains)
- executor: Executor, ContainerSpec, ProcessSpec, BindMount, Runtime, find_runtime (the only caller of runc/crun)
- fileops: copy_files, make_directory, resolve_in_root, lookup_user (COPY/ADD/WORKDIR inside a root)
- users: resolve_user, resolve_owner (/etc/passwd and /etc/group of a root, as Docker reads them)
- sources: fetch_url, fetch_git (ADD of remote sources into a temp tree)

It never parses Dockerfile text and never imports slipway.frontend.
"""
