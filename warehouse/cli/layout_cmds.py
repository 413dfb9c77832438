"""Commands: see the module owner's issue."""
