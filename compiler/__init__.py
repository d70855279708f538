"""The mlspec front end: parse, check, build the IR, write builds. Imports no cloud SDK."""
__version__ = "0.1.0"
