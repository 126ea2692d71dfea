"""The setup dashboard: onboard enterprise customers to WorkOS Admin Portal."""
