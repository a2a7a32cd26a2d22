"""jenkins-fleet: generate, audit and push a fleet of Jenkins controllers."""

__version__ = "0.1.0"
