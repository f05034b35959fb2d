"""An email-as-username user model like ThinkNimble's, to test initdb against (not shipped)."""
