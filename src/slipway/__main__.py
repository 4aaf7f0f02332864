from slipway.cli import entry

entry()
