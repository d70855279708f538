"""Holds mlspec.lark, the one place the mlspec language is defined."""
