"""Thin argparse subcommands: each handler parses, calls one API function, prints."""
