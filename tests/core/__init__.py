"""Tests of core/: the store, the token format and the authorization rules."""
