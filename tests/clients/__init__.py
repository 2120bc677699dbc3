"""opencode's own clients - `opencode attach`, the web app in Chromium, the JS SDK -
driven for real against a real `opencode serve` (and, later, the gateway)."""
