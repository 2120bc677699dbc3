"""What a request may do: the opencode route policy (data) and its engine, the
router mirror, directory scope, and the decision (`authorize`, `CachedAuthorizer`)."""
