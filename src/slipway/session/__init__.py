"""slipway.session: what the caller of a build lends it for the build's length, as BuildKit's session
attachables: secrets (`--secret`) and SSH agents (`--ssh`). Nothing here is ever stored."""
