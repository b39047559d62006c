"""Samla's transport and assembly: the app, its settings, sockets, hub and broker."""
