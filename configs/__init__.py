"""Default configs shipped with s4forecast (package data; read with importlib.resources)."""
