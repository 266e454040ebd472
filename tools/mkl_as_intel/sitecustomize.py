"""Imported by Python at start-up when this folder is on PYTHONPATH: see mkl_as_intel."""

from mkl_as_intel import pretend_intel

pretend_intel()
