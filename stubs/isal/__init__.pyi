# Types for the parts of python-isal that slipway calls: its igzip and igzip_threaded modules are not annotated.
