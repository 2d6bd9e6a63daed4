"""Offline training and evaluation of the shipped models; never imported by the gateway or the runtime packages."""
