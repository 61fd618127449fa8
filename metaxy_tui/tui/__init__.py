"""The Textual UI. It talks to the engine only through metaxy_tui.service."""
