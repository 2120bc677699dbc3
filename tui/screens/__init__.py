"""Screens and modals, one module each."""
