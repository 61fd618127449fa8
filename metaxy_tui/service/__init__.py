"""The service layer: what the TUI and the command line both do, without any UI.

Screens and commands call these functions; nothing here imports Textual or Click.
"""
