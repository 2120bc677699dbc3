"""The Textual TUI over `core`: screens, widgets and one stylesheet. `core` never imports it."""
