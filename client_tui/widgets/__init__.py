"""Widgets of the warung app: tables, views that fill a tab, the status bar."""
